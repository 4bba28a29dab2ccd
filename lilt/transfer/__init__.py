"""Managed uploads: files and streams to LILT storage, fast, bounded and resumable.

::

    import lilt

    result = lilt.upload_file("video.mp4")               # one call
    results = lilt.upload_files(["a.json", "b.zip"])    # many files, one pool

    config = lilt.TransferConfig(concurrency=4, journal="uploads.journal")
    with lilt.Uploader(lilt.ApiClient(configuration), config) as uploader:
        uploader.upload_file("big.tar")                  # resumable: run it again after a crash

Modules, one job each: :mod:`~lilt.transfer.config` (options),
:mod:`~lilt.transfer.plan` (part layout, pure), :mod:`~lilt.transfer.source`
(reading files and streams), :mod:`~lilt.transfer.storage_client` (PUTs with
retries), :mod:`~lilt.transfer.uploader_api` (the API calls the uploader makes and
retries), :mod:`~lilt.transfer.jobs` (what each file's upload is and how far it
got), :mod:`~lilt.transfer.engine` (scheduling, clean-up), :mod:`~lilt.transfer.tasks`
(the worker threads' I/O), :mod:`~lilt.transfer.failure` (the error a failed
transfer raises), :mod:`~lilt.transfer.journal` (resume), :mod:`~lilt.transfer.state` (where the
command keeps journals), :mod:`~lilt.transfer.walk` (folders),
:mod:`~lilt.transfer.progress` and :mod:`~lilt.transfer.results`. The guide is ``docs/uploads.md``.
"""

from __future__ import annotations

from lilt._retry import RetryPolicy
from lilt.transfer.config import TransferConfig
from lilt.transfer.engine import SerialExecutor
from lilt.transfer.journal import JournalError
from lilt.transfer.plan import PartSpec, Plan, PlanError, plan_upload
from lilt.transfer.progress import ProgressCallback, ProgressEvent, TextProgress, TqdmProgress
from lilt.transfer.results import Checksums, UploadedPart, UploadResult
from lilt.transfer.source import SourceChangedError
from lilt.transfer.storage_client import StorageError
from lilt.transfer.uploader import (
    Uploader,
    upload_file,
    upload_fileobj,
    upload_files,
    upload_folder,
)
from lilt.transfer.uploader_api import FilenameError
from lilt.transfer.walk import LocalFile, SkippedPath

__all__ = [
    "Checksums",
    "FilenameError",
    "JournalError",
    "LocalFile",
    "PartSpec",
    "Plan",
    "PlanError",
    "plan_upload",
    "ProgressCallback",
    "ProgressEvent",
    "RetryPolicy",
    "SerialExecutor",
    "SkippedPath",
    "SourceChangedError",
    "StorageError",
    "TextProgress",
    "TqdmProgress",
    "TransferConfig",
    "UploadResult",
    "UploadedPart",
    "Uploader",
    "upload_file",
    "upload_fileobj",
    "upload_files",
    "upload_folder",
]
