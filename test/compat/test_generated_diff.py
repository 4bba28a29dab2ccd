"""Introspection diff against the generated 3.1.0 client's surface (``generated_3_1_0.json``).

Public names and their kinds, ``__all__`` of every module, signatures with
their resolved annotations, class members and MROs, exceptions, model fields,
aliases, descriptions, docstrings, ``__properties``, JSON schemas and what
``from_dict`` does, all compared fact by fact (``surface.py``, ``diff.py``).
Every difference that remains is listed below with the section of
``docs/migration.md`` that explains it; a difference not listed fails, and so
does a listed one that no longer occurs.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from pathlib import Path

import pytest

from compat import surface
from compat.diff import Difference, differences

HERE = Path(__file__).resolve().parent
MIGRATION = HERE.parent.parent / "docs" / "migration.md"
SNAPSHOT = json.loads((HERE / "generated_3_1_0.json").read_text())

MODEL_MODULES = "lilt.models.*"
EXCEPTIONS = "lilt.exceptions.*"

#: reason -> the heading in docs/migration.md that explains it
REASONS = {
    "other-apis": "Only the uploads API is here",
    "new": "New names",
    "all": "`__all__` in every module",
    "incidental": "Names that were only the generated code's own imports",
    "base": "Models share a base class",
    "bulk": "Bulk initiate in the annotations",
    "typing": "Annotations that say more",
}

#: (reason, kind, key patterns): every difference the diff still shows
KNOWN: list[tuple[str, str, list[str]]] = [
    (
        "new",
        "extra",
        [
            f"module lilt name {name}"
            for name in (
                "RetryPolicy",
                "TransferConfig",
                "UploadResult",
                "Uploader",
                "upload_file",
                "upload_fileobj",
                "upload_files",
                "upload_folder",
            )
        ]
        + [
            f"module {EXCEPTIONS.rstrip('.*')} name " + name
            for name in (
                "ApiConnectionError",
                "ApiSSLError",
                "ApiTimeoutError",
                "RateLimitError",
                "ResponseDecodeError",
                "ResponseTooLargeError",
                "TransferError",
            )
        ]
        + [
            "module lilt.rest name map_urllib3_error",
            "class lilt.api_client.ApiClient member close",
            "class lilt.rest.RESTClientObject member close",
            "class lilt.configuration.Configuration member retry_for_urllib3",
            f"class {EXCEPTIONS} member message",
            f"class {EXCEPTIONS} member request_id",
        ],
    ),
    (
        "new",
        "changed",
        [
            "module lilt __all__",
            "class lilt.configuration.Configuration member __init__",  # retries takes a RetryPolicy
            "class lilt.api_client.ApiClient member __init__",  # a keyword-only transport
            "class lilt.rest.RESTResponse member __init__",  # an optional url, for redacted errors
        ],
    ),
    (
        "all",
        "changed",
        [
            f"module {module} __all__"
            for module in (
                "lilt.api",
                "lilt.api.uploads_api",
                "lilt.api_client",
                "lilt.configuration",
                "lilt.exceptions",
                "lilt.models",
                MODEL_MODULES,
                "lilt.rest",
            )
        ],
    ),
    (
        "incidental",
        "missing",
        [
            f"module {MODEL_MODULES} name {name}"
            for name in (
                "Any",
                "BaseModel",
                "ConfigDict",
                "Dict",
                "Optional",
                "Self",
                "Set",
                "json",
                "pprint",
                "re",
            )
        ]
        + [
            "module lilt.api_client name List",
            "module lilt.api_client name Tuple",
            "module lilt.api_client name mimetypes",
            "module lilt.configuration name Dict",
            "module lilt.configuration name List",
            "module lilt.configuration name Literal",
            "module lilt.exceptions name Self",
        ],
    ),
    ("base", "changed", [f"class {MODEL_MODULES} mro"]),
    (
        "bulk",
        "changed",
        [
            f"class lilt.api.uploads_api.UploadsApi member initiate_{op}{variant}"
            for op in ("multipart_upload", "s3_upload")
            for variant in ("", "_with_http_info", "_without_preload_content")
        ],
    ),
    (
        "typing",
        "changed",
        [
            "class lilt.api.uploads_api.UploadsApi member _*_serialize",
            "module lilt.api.uploads_api name RequestSerialized",
            "module lilt.api_client name RequestSerialized",
            "class lilt.api_client.ApiClient member deserialize",
            "class lilt.api_client.ApiClient member files_parameters",
            "class lilt.api_client.ApiClient member param_serialize",
            "class lilt.api_client.ApiClient member select_header_accept",
            "class lilt.configuration.Configuration member get_default",
            "class lilt.configuration.Configuration member get_default_copy",
            "class lilt.configuration.Configuration member set_default",
            f"class {EXCEPTIONS} member from_response",
        ],
    ),
]


def _explained_by(difference: Difference) -> list[str]:
    return [
        reason
        for reason, kind, patterns in KNOWN
        if kind == difference.kind and any(fnmatch.fnmatchcase(difference.key, p) for p in patterns)
    ]


@pytest.fixture(scope="module")
def found() -> list[Difference]:
    return differences(SNAPSHOT["facts"], surface.describe())


def test_every_difference_is_listed_with_its_reason(found: list[Difference]) -> None:
    unexplained = [str(d) for d in found if not _explained_by(d)]
    assert unexplained == [], "\n".join(unexplained)


def test_every_listed_difference_still_occurs(found: list[Difference]) -> None:
    stale = [
        (reason, kind, pattern)
        for reason, kind, patterns in KNOWN
        for pattern in patterns
        if not any(d.kind == kind and fnmatch.fnmatchcase(d.key, pattern) for d in found)
    ]
    assert stale == []


def test_every_reason_is_explained_in_the_migration_guide() -> None:
    text = MIGRATION.read_text()
    headings = {line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")}
    assert [r for r in REASONS.values() if r not in headings] == []
    # (the other APIs are not described at all: the snapshot lists them apart)
    assert {reason for reason, _, _ in KNOWN} | {"other-apis"} == set(REASONS)


def test_the_snapshot_covers_what_the_issue_names() -> None:
    """Guards the snapshot itself: the facts the comparison relies on are in it."""
    facts = SNAPSHOT["facts"]
    for model in surface.UPLOAD_MODELS.values():
        assert f"model {model} schema" in facts
        assert f"model {model} properties" in facts
        assert f"model {model} from_dict fields_set" in facts
    methods = [k for k in facts if k.startswith("class lilt.api.uploads_api.UploadsApi member ")]
    assert len(methods) == 1 + 8 * 4  # __init__ and four members per operation
    assert all("get_type_hints fails" not in facts[k] for k in methods)
    assert facts["reachable lilt.models"] == "module lilt.models"
    assert len(SNAPSHOT["not_shipped"]["lilt.api"]) == 12 + 12  # the other APIs and their modules


def test_the_other_apis_are_not_shipped() -> None:
    import lilt

    shipped = [n for n in SNAPSHOT["not_shipped"]["lilt"] if n in dir(lilt)]
    assert shipped == []


def test_submodules_are_reachable_after_a_bare_import() -> None:
    """Generated-client code that touches submodules right after ``import lilt``."""
    code = """
import lilt
def annotated(body: "lilt.models.InitiateUploadBody") -> lilt.models.InitiateUploadBody:
    return body
assert lilt.models.initiate_upload_body.InitiateUploadBody is lilt.InitiateUploadBody
assert lilt.api.uploads_api.UploadsApi is lilt.UploadsApi
assert lilt.rest.ApiException is lilt.exceptions.ApiException
assert lilt.configuration.Configuration is lilt.Configuration
assert lilt.api_client.ApiClient is lilt.ApiClient
assert lilt.api_response.ApiResponse is lilt.ApiResponse
internal = [n for n in dir(lilt) if n in ("Any", "TYPE_CHECKING", "annotations", "importlib")
            or (n.startswith("_") and not n.endswith("__"))]
assert internal == [], internal
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr
