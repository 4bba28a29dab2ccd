"""A local LILT uploads API for tests, demos and CI, on a real S3 server.

The emulator serves LILT's eight upload routes on ``http://127.0.0.1:PORT``
and stores into a real S3-compatible server (SeaweedFS ``weed mini`` by
default), so presigned URLs, signatures, expiry, Content-Type and multipart
rules are enforced by a real implementation, not imitated. Install it with
``pip install 'lilt[emulator]'``.

Three ways to run it:

- a context manager::

      from lilt.testing import Emulator

      with Emulator() as emu:          # starts its own storage; or Emulator(storage=endpoint)
          client = lilt.ApiClient(lilt.Configuration(
              host=emu.base_url, username=emu.api_key, password=emu.api_key))
          ...
          assert emu.read_object(key) == data

- pytest fixtures (registered automatically when lilt is installed):
  ``lilt_storage`` (session: one storage server for the whole run, or the
  S3 server named by ``LILT_TEST_S3_ENDPOINT``/``_ACCESS_KEY``/``_SECRET_KEY``)
  and ``lilt_emulator`` (per test: a fresh emulator with its own bucket);
- the command line: ``lilt emulator`` or ``python -m lilt.testing``.

What a test can look at or change on an :class:`Emulator` ``emu``:

- ``emu.base_url``, ``emu.api_key``, ``emu.env`` (``LILT_API_HOST``/``LILT_API_KEY``);
- ``emu.read_object(key)`` (bytes), ``emu.head_object(key)`` (size and ETag, or
  None), ``emu.list_objects(prefix)``, ``emu.list_multipart_uploads()`` (uploads
  neither completed nor aborted: orphans);
- ``emu.uploads()`` / ``emu.upload(id)``: the :class:`UploadRecord` of every
  initiated upload (id, filename, key, kind, status, metadata);
- ``emu.requests(*operations)``: every :class:`ApiRequest` received (method,
  path, query pairs, headers, body, operation, status, injected fault), e.g.
  to assert that no credentials reached an endpoint;
- ``emu.faults``: a :class:`FaultPlan` injecting :class:`ApiFault` s (429 with
  ``Retry-After``, 5xx, slow answers) by count, by script or at random,
  optionally only on some operations; ``emu.faults.counts`` says what was injected;
- ``emu.url_lifetime`` and ``emu.presign_endpoint`` (the S3 address written
  into presigned URLs, e.g. a :class:`~lilt.testing.proxy.FaultProxy` in front
  of storage), both settable while it runs.

This package imports nothing heavy until a name is used: the pytest plugin
loads for every pytest run of everyone who installs lilt. It never imports
the SDK's client code either: it is the reference the SDK is tested against.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "Emulator": "lilt.testing.emulator",
    "ApiFault": "lilt.testing.faults",
    "FaultPlan": "lilt.testing.faults",
    "InjectedFault": "lilt.testing.faults",
    "OPERATIONS": "lilt.testing.faults",
    "ApiRequest": "lilt.testing.records",
    "UploadMetadata": "lilt.testing.records",
    "UploadRecord": "lilt.testing.records",
    "UploadStatus": "lilt.testing.records",
    "MultipartInfo": "lilt.testing.s3",
    "ObjectInfo": "lilt.testing.s3",
    "S3Error": "lilt.testing.s3",
    "S3Endpoint": "lilt.testing.storage",
    "SeaweedFS": "lilt.testing.storage",
    "StorageStartError": "lilt.testing.storage",
    "WeedNotFoundError": "lilt.testing.storage",
}

__all__ = sorted(_LAZY)

# what the `emulator` extra installs (the storage server itself is checked at start)
_EXTRA_MODULES = frozenset({"werkzeug", "botocore"})

if TYPE_CHECKING:
    from lilt.testing.emulator import Emulator as Emulator
    from lilt.testing.faults import OPERATIONS as OPERATIONS
    from lilt.testing.faults import ApiFault as ApiFault
    from lilt.testing.faults import FaultPlan as FaultPlan
    from lilt.testing.faults import InjectedFault as InjectedFault
    from lilt.testing.records import ApiRequest as ApiRequest
    from lilt.testing.records import UploadMetadata as UploadMetadata
    from lilt.testing.records import UploadRecord as UploadRecord
    from lilt.testing.records import UploadStatus as UploadStatus
    from lilt.testing.s3 import MultipartInfo as MultipartInfo
    from lilt.testing.s3 import ObjectInfo as ObjectInfo
    from lilt.testing.s3 import S3Error as S3Error
    from lilt.testing.storage import S3Endpoint as S3Endpoint
    from lilt.testing.storage import SeaweedFS as SeaweedFS
    from lilt.testing.storage import StorageStartError as StorageStartError
    from lilt.testing.storage import WeedNotFoundError as WeedNotFoundError


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lilt.testing' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if exc.name not in _EXTRA_MODULES:
            raise
        raise ImportError(
            f"lilt.testing.{name} needs {exc.name}: pip install 'lilt[emulator]'"
        ) from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
