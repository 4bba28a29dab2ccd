"""LILT Uploads API for Python.

A drop-in replacement for the OpenAPI-generated ``lilt`` client's uploads
surface (same import paths, classes, methods and models) that fixes its
defects, plus a managed uploader (:func:`upload_file` and friends) and a local
emulator (:mod:`lilt.testing`).

Names are imported lazily (PEP 562) so that ``import lilt`` stays cheap: the
models, the client and the uploader load on first use.
"""

import importlib as _importlib
import typing as _typing

__version__ = "3.1.0"

# public name -> module that defines it
_LAZY = {
    "UploadsApi": "lilt.api.uploads_api",
    "ApiResponse": "lilt.api_response",
    "ApiClient": "lilt.api_client",
    "Configuration": "lilt.configuration",
    "OpenApiException": "lilt.exceptions",
    "ApiTypeError": "lilt.exceptions",
    "ApiValueError": "lilt.exceptions",
    "ApiKeyError": "lilt.exceptions",
    "ApiAttributeError": "lilt.exceptions",
    "ApiException": "lilt.exceptions",
    "CancelMultipartUpload200Response": "lilt.models.cancel_multipart_upload200_response",
    "CompleteMultipartUpload200Response": "lilt.models.complete_multipart_upload200_response",
    "CompleteMultipartUploadBody": "lilt.models.complete_multipart_upload_body",
    "CompleteMultipartUploadBodyPartsInner": (
        "lilt.models.complete_multipart_upload_body_parts_inner"
    ),
    "Error": "lilt.models.error",
    "GetPendingUploads200ResponseInner": "lilt.models.get_pending_uploads200_response_inner",
    "GetS3UploadParams200Response": "lilt.models.get_s3_upload_params200_response",
    "InitiateMultipartUpload200Response": "lilt.models.initiate_multipart_upload200_response",
    "InitiateMultipartUploadBody": "lilt.models.initiate_multipart_upload_body",
    "InitiateMultipartUploadBodyMetadata": ("lilt.models.initiate_multipart_upload_body_metadata"),
    "InitiateUploadBody": "lilt.models.initiate_upload_body",
    "InitiateUploadBodyMetadata": "lilt.models.initiate_upload_body_metadata",
    "SignUploadPart200Response": "lilt.models.sign_upload_part200_response",
    "RetryPolicy": "lilt._retry",
    # the managed uploader
    "upload_file": "lilt.transfer",
    "upload_files": "lilt.transfer",
    "upload_fileobj": "lilt.transfer",
    "upload_folder": "lilt.transfer",
    "Uploader": "lilt.transfer",
    "TransferConfig": "lilt.transfer",
    "UploadResult": "lilt.transfer",
}

__all__ = list(_LAZY)

#: submodules that a bare ``import lilt`` makes reachable, as the generated
#: package did by importing them eagerly (``lilt.models.InitiateUploadBody``)
_SUBMODULES = frozenset(
    {
        "api",
        "api_client",
        "api_response",
        "configuration",
        "exceptions",
        "models",
        "rest",
        "transfer",
    }
)


def __getattr__(name: str) -> _typing.Any:
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")  # binds lilt.<name> itself
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # Public names and the usual module dunders; not the lazy-loading machinery.
    loaded = {n for n in globals() if not n.startswith("_") or n.endswith("__")}
    return sorted((loaded | set(__all__) | _SUBMODULES) - {"__getattr__", "__dir__"})


if _typing.TYPE_CHECKING:
    from lilt import (
        api as api,
    )
    from lilt import (
        api_client as api_client,
    )
    from lilt import (
        api_response as api_response,
    )
    from lilt import (
        configuration as configuration,
    )
    from lilt import (
        exceptions as exceptions,
    )
    from lilt import (
        models as models,
    )
    from lilt import (
        rest as rest,
    )
    from lilt import (
        transfer as transfer,
    )
    from lilt._retry import RetryPolicy as RetryPolicy
    from lilt.api.uploads_api import UploadsApi as UploadsApi
    from lilt.api_client import ApiClient as ApiClient
    from lilt.api_response import ApiResponse as ApiResponse
    from lilt.configuration import Configuration as Configuration
    from lilt.exceptions import ApiAttributeError as ApiAttributeError
    from lilt.exceptions import ApiException as ApiException
    from lilt.exceptions import ApiKeyError as ApiKeyError
    from lilt.exceptions import ApiTypeError as ApiTypeError
    from lilt.exceptions import ApiValueError as ApiValueError
    from lilt.exceptions import OpenApiException as OpenApiException
    from lilt.models import *  # noqa: F403
    from lilt.transfer import TransferConfig as TransferConfig
    from lilt.transfer import Uploader as Uploader
    from lilt.transfer import UploadResult as UploadResult
    from lilt.transfer import upload_file as upload_file
    from lilt.transfer import upload_fileobj as upload_fileobj
    from lilt.transfer import upload_files as upload_files
    from lilt.transfer import upload_folder as upload_folder
