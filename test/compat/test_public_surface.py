"""The generated 3.1.0 client's uploads surface, pinned (contract sections 1-7).

Parameter names, order, kinds and defaults of the 24 methods and of the
constructors, import paths, ``__all__`` and attributes. Annotations are not
pinned where a defect fix widened them (bulk bodies).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

import lilt
from compat.surface import UPLOAD_MODELS

OPTIONS = [
    ("_request_timeout", None),
    ("_request_auth", None),
    ("_content_type", None),
    ("_headers", None),
    ("_host_index", 0),
]
REQ = inspect.Parameter.empty
OPERATIONS: dict[str, list[tuple[str, Any]]] = {
    "cancel_multipart_upload": [("upload_id", REQ), ("s3_key", REQ)],
    "complete_multipart_upload": [
        ("upload_id", REQ),
        ("s3_key", REQ),
        ("complete_multipart_upload_body", REQ),
    ],
    "get_pending_uploads": [("ids", None), ("statuses", None)],
    "get_s3_upload_params": [
        ("filename", REQ),
        ("type", REQ),
        ("metadata_size", None),
        ("metadata_category", None),
        ("metadata_uuid", None),
        ("metadata_labels", None),
    ],
    "get_upload_by_id": [("upload_id", REQ)],
    "initiate_multipart_upload": [("initiate_multipart_upload_body", REQ)],
    "initiate_s3_upload": [("initiate_upload_body", REQ)],
    "sign_upload_part": [("upload_id", REQ), ("part_number", REQ), ("s3_key", REQ), ("size", REQ)],
}
MODELS = UPLOAD_MODELS  # module name -> class name, the 13 upload models
IMPORTS = {
    "lilt": [
        "UploadsApi",
        "ApiClient",
        "ApiResponse",
        "Configuration",
        "OpenApiException",
        "ApiTypeError",
        "ApiValueError",
        "ApiKeyError",
        "ApiAttributeError",
        "ApiException",
        *MODELS.values(),
    ],
    "lilt.api": ["UploadsApi"],
    "lilt.api.uploads_api": [
        "UploadsApi",
        "ApiClient",
        "RequestSerialized",
        "ApiResponse",
        "RESTResponseType",
        "validate_call",
        "Field",
        "StrictStr",
        "StrictInt",
        "StrictFloat",
        "Annotated",
    ],
    "lilt.models": list(MODELS.values()),
    "lilt.rest": [
        "RESTClientObject",
        "RESTResponse",
        "RESTResponseType",
        "is_socks_proxy_url",
        "SUPPORTED_SOCKS_PROXIES",
        "ApiException",
        "ApiValueError",
    ],
    "lilt.exceptions": [
        "OpenApiException",
        "ApiTypeError",
        "ApiValueError",
        "ApiAttributeError",
        "ApiKeyError",
        "ApiException",
        "BadRequestException",
        "UnauthorizedException",
        "ForbiddenException",
        "NotFoundException",
        "ConflictException",
        "UnprocessableEntityException",
        "ServiceException",
        "render_path",
    ],
    "lilt.configuration": [
        "Configuration",
        "GenericAuthSetting",
        "OAuth2AuthSetting",
        "APIKeyAuthSetting",
        "BasicAuthSetting",
        "BearerFormatAuthSetting",
        "BearerAuthSetting",
        "HTTPSignatureAuthSetting",
        "AuthSettings",
        "HostSettingVariable",
        "HostSetting",
        "ServerVariablesT",
        "JSON_SCHEMA_VALIDATION_KEYWORDS",
    ],
    "lilt.api_client": [
        "ApiClient",
        "RequestSerialized",
        "ApiResponse",
        "ApiResponseT",
        "Configuration",
        "ApiException",
        "ApiValueError",
        "BadRequestException",
        "UnauthorizedException",
        "ForbiddenException",
        "NotFoundException",
        "ServiceException",
        "rest",
    ],
    "lilt.api_response": ["ApiResponse", "T"],
}
CONFIGURATION_PARAMS = [
    "host",
    "api_key",
    "api_key_prefix",
    "username",
    "password",
    "access_token",
    "server_index",
    "server_variables",
    "server_operation_index",
    "server_operation_variables",
    "ignore_operation_servers",
    "ssl_ca_cert",
    "retries",
    "ca_cert_data",
    "cert_file",
    "key_file",
    "debug",
]
CONFIGURATION_ATTRIBUTES = [
    "server_index",
    "server_operation_index",
    "server_variables",
    "server_operation_variables",
    "ignore_operation_servers",
    "temp_folder_path",
    "api_key",
    "api_key_prefix",
    "refresh_api_key_hook",
    "username",
    "password",
    "access_token",
    "logger",
    "logger_format",
    "logger_stream_handler",
    "logger_file_handler",
    "logger_file",
    "debug",
    "verify_ssl",
    "ssl_ca_cert",
    "ca_cert_data",
    "cert_file",
    "key_file",
    "assert_hostname",
    "tls_server_name",
    "connection_pool_maxsize",
    "proxy",
    "proxy_headers",
    "safe_chars_for_path_param",
    "retries",
    "client_side_validation",
    "socket_options",
    "datetime_format",
    "date_format",
    "host",
]
CONFIGURATION_METHODS = [
    "set_default",
    "get_default",
    "get_default_copy",
    "get_api_key_with_prefix",
    "get_basic_auth_token",
    "auth_settings",
    "to_debug_report",
    "get_host_settings",
    "get_host_from_settings",
]
API_CLIENT_METHODS = [
    "param_serialize",
    "call_api",
    "response_deserialize",
    "sanitize_for_serialization",
    "deserialize",
    "parameters_to_tuples",
    "parameters_to_url_query",
    "files_parameters",
    "select_header_accept",
    "select_header_content_type",
    "update_params_for_auth",
    "_apply_auth_params",
    "set_default_header",
    "get_default",
    "set_default",
    "__enter__",
    "__exit__",
]


@pytest.mark.parametrize(("module", "names"), IMPORTS.items())
def test_generated_import_paths_still_resolve(module: str, names: list[str]) -> None:
    imported = importlib.import_module(module)
    missing = [n for n in names if not hasattr(imported, n)]
    assert missing == []


def test_model_modules_keep_their_generated_names() -> None:
    for module, name in MODELS.items():
        assert hasattr(importlib.import_module(f"lilt.models.{module}"), name)


def test_top_level_all_and_version() -> None:
    assert lilt.__version__ == "3.1.0"
    assert set(IMPORTS["lilt"]) <= set(lilt.__all__)
    for name in lilt.__all__:
        assert getattr(lilt, name) is not None
    assert lilt.rest.ApiException is lilt.ApiException


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("variant", ["", "_with_http_info", "_without_preload_content"])
def test_method_signatures(operation: str, variant: str) -> None:
    signature = inspect.signature(getattr(lilt.UploadsApi, operation + variant))
    params = [(p.name, p.default) for p in signature.parameters.values()]
    assert params == [("self", REQ), *OPERATIONS[operation], *OPTIONS]
    assert all(
        p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in signature.parameters.values()
    )


@pytest.mark.parametrize("operation", OPERATIONS)
def test_serialize_signatures(operation: str) -> None:
    signature = inspect.signature(getattr(lilt.UploadsApi, f"_{operation}_serialize"))
    expected = [
        "self",
        *(n for n, _ in OPERATIONS[operation]),
        "_request_auth",
        "_content_type",
        "_headers",
        "_host_index",
    ]
    assert list(signature.parameters) == expected


def test_constructors() -> None:
    assert list(inspect.signature(lilt.Configuration).parameters) == CONFIGURATION_PARAMS
    assert (
        inspect.signature(lilt.Configuration).parameters["debug"].kind
        is inspect.Parameter.KEYWORD_ONLY
    )
    assert list(inspect.signature(lilt.ApiClient).parameters) == [
        "configuration",
        "header_name",
        "header_value",
        "cookie",
        "transport",
    ]
    assert (
        inspect.signature(lilt.ApiClient).parameters["transport"].kind
        is inspect.Parameter.KEYWORD_ONLY
    )
    assert list(inspect.signature(lilt.UploadsApi).parameters) == ["api_client"]
    assert list(inspect.signature(lilt.ApiException).parameters) == [
        "status",
        "reason",
        "http_resp",
        "body",
        "data",
    ]


def test_configuration_and_client_attributes() -> None:
    config = lilt.Configuration()
    assert [a for a in CONFIGURATION_ATTRIBUTES if not hasattr(config, a)] == []
    assert [m for m in CONFIGURATION_METHODS if not callable(getattr(config, m, None))] == []
    with lilt.ApiClient(config, "X-Extra", "1", cookie="c=1") as client:
        assert [m for m in API_CLIENT_METHODS if not callable(getattr(client, m, None))] == []
        assert client.default_headers == {
            "X-Extra": "1",
            "User-Agent": "OpenAPI-Generator/3.1.0/python",
        }
        assert client.cookie == "c=1" and client.configuration is config
        assert client.client_side_validation is True
        assert (float, bool, bytes, str, int) == lilt.ApiClient.PRIMITIVE_TYPES
        assert set(lilt.ApiClient.NATIVE_TYPES_MAPPING) == {
            "int",
            "long",
            "float",
            "str",
            "bool",
            "date",
            "datetime",
            "decimal",
            "object",
        }
    assert {"socks5", "socks5h", "socks4", "socks4a"} == lilt.rest.SUPPORTED_SOCKS_PROXIES


def test_uploads_api_uses_the_default_client_when_given_none() -> None:
    lilt.ApiClient.set_default(None)
    try:
        assert lilt.UploadsApi().api_client is lilt.ApiClient.get_default()
    finally:
        lilt.ApiClient.get_default().close()
        lilt.ApiClient.set_default(None)
        lilt.Configuration.set_default(None)
