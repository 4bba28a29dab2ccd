"""The emulator's upload flows end to end, against real SeaweedFS, with urllib3 only."""

from __future__ import annotations

import datetime
import hashlib
import os

import pytest
from emulator.conftest import Api

from lilt.testing import Emulator, UploadStatus

pytestmark = pytest.mark.storage

MiB = 1024 * 1024


def test_single_upload_round_trip(api: Api, lilt_emulator: Emulator) -> None:
    data = os.urandom(300_000)
    answer = api.initiate(
        "report.pdf",
        "application/pdf",
        metadata={"size": len(data), "category": "docs", "labels": ["a", "b"]},
    )
    assert answer["method"] == "PUT"
    assert answer["key"].endswith("/report.pdf")
    assert answer["url"].startswith(lilt_emulator.storage.url + "/")

    stored = api.put(answer["url"], data, {"Content-Type": "application/pdf"})

    assert stored.status == 200, stored.data
    assert lilt_emulator.read_object(answer["key"]) == data
    info = lilt_emulator.head_object(answer["key"])
    assert info is not None
    assert (info.size, info.etag, info.content_type) == (
        len(data),
        f'"{hashlib.md5(data).hexdigest()}"',
        "application/pdf",
    )
    [record] = lilt_emulator.uploads()
    assert (record.kind, record.status, record.metadata.labels) == (
        "single",
        "uploaded",
        ("a", "b"),
    )


def test_get_params_variant_takes_query_metadata(api: Api, lilt_emulator: Emulator) -> None:
    r = api.call(
        "GET",
        "/v2/upload/s3/params",
        query={
            "filename": "f.json",
            "type": "application/json",
            "metadata.size": 2,
            "metadata.category": "c",
            "metadata.uuid": "u-1",
            "metadata.labels": "x,y",
        },
    )

    assert r.status == 200, r.data
    assert api.put(r.json()["url"], b"{}", {"Content-Type": "application/json"}).status == 200
    assert lilt_emulator.read_object(r.json()["key"]) == b"{}"
    [record] = lilt_emulator.uploads()
    assert record.metadata.size == 2 and record.metadata.uuid == "u-1"
    assert record.metadata.labels == ("x", "y")


def test_multipart_upload_round_trip(api: Api, lilt_emulator: Emulator) -> None:
    chunks = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    upload = api.initiate_multipart("video.mp4", "video/mp4")
    assert set(upload) == {"uploadId", "key"}
    assert [u.upload_id for u in lilt_emulator.list_multipart_uploads()] == [upload["uploadId"]]

    parts = api.upload_parts(upload, chunks)
    done = api.complete(upload, parts)

    assert done.status == 200, done.data
    assert done.json() == {"success": True, "location": done.json()["location"]}
    assert done.json()["location"].endswith("/" + upload["key"])
    data = b"".join(chunks)
    assert lilt_emulator.read_object(upload["key"]) == data
    digests = b"".join(hashlib.md5(c).digest() for c in chunks)
    info = lilt_emulator.head_object(upload["key"])
    assert info is not None
    assert (info.size, info.content_type) == (len(data), "video/mp4")
    assert info.etag == f'"{hashlib.md5(digests).hexdigest()}-3"'
    assert lilt_emulator.list_multipart_uploads() == []
    # a retried complete (its first answer lost) succeeds again, as on S3
    assert api.complete(upload, parts).json() == done.json()


def test_sign_answers_url_and_method_only(api: Api) -> None:
    upload = api.initiate_multipart()
    r = api.sign(upload, 7, 5 * MiB)
    assert r.status == 200
    assert set(r.json()) == {"url", "method"} and r.json()["method"] == "PUT"
    assert "partNumber=7" in r.json()["url"] and "uploadId=" in r.json()["url"]


def test_too_small_part_is_refused_at_complete(api: Api, lilt_emulator: Emulator) -> None:
    upload = api.initiate_multipart()
    parts = api.upload_parts(upload, [b"a" * 1024, b"b" * 1024])

    r = api.complete(upload, parts)

    assert r.status == 400
    assert "EntityTooSmall" in r.message
    assert lilt_emulator.upload(1).status is UploadStatus.PENDING


def test_wrong_part_etag_is_refused_at_complete(api: Api) -> None:
    upload = api.initiate_multipart()
    api.upload_parts(upload, [b"only part"])
    r = api.complete(upload, [{"ETag": '"0123456789abcdef0123456789abcdef"', "PartNumber": 1}])
    assert r.status == 400
    assert "InvalidPart" in r.message


def test_bad_content_md5_is_refused_by_storage(api: Api) -> None:
    answer = api.initiate("a.txt", "text/plain")
    wrong = "1B2M2Y8AsgTpgAmY7PhCfg=="  # the MD5 of nothing
    r = api.put(answer["url"], b"something", {"Content-Type": "text/plain", "Content-MD5": wrong})
    assert r.status == 400 and b"BadDigest" in r.data


def test_cancel_leaves_no_upload_behind(api: Api, lilt_emulator: Emulator) -> None:
    upload = api.initiate_multipart()
    api.upload_parts(upload, [os.urandom(1000)])

    r = api.cancel(upload)

    assert r.status == 200, r.data
    assert r.json()["success"] is True and r.json()["message"]
    assert lilt_emulator.list_multipart_uploads() == []
    assert lilt_emulator.list_objects() == []
    assert api.record(1)["status"] == "cancelled"
    # the upload is gone: signing, completing or cancelling it again is a 404
    assert api.sign(upload, 2, 10).status == 404
    assert api.complete(upload, [{"ETag": "x", "PartNumber": 1}]).status == 404
    assert api.cancel(upload).status == 404


@pytest.mark.parametrize("path", ["/v2/upload/s3/params", "/v2/upload/s3/multipart"])
def test_bulk_of_100_is_accepted_and_101_refused(
    api: Api, lilt_emulator: Emulator, path: str
) -> None:
    items = [{"filename": f"f{i}.txt", "type": "text/plain"} for i in range(101)]

    refused = api.call("POST", path, payload=items)
    accepted = api.call("POST", path, payload=items[:100])

    assert refused.status == 400 and "100" in refused.message
    assert accepted.status == 200, accepted.data
    answers = accepted.json()
    assert isinstance(answers, list) and len(answers) == 100
    assert len({a["key"] for a in answers}) == 100
    assert [r.filename for r in lilt_emulator.uploads()] == [f"f{i}.txt" for i in range(100)]
    if path.endswith("multipart"):
        assert len(lilt_emulator.list_multipart_uploads()) == 100
    # a one-item list is still answered with a list
    one = api.call("POST", path, payload=items[:1])
    assert isinstance(one.json(), list) and len(one.json()) == 1


def test_records_follow_the_lifecycle(api: Api, lilt_emulator: Emulator) -> None:
    single = api.initiate("one.txt")  # id 1
    finished = api.initiate_multipart("two.bin")  # id 2
    cancelled = api.initiate_multipart("three.bin")  # id 3
    api.initiate("never-uploaded.txt")  # id 4
    before = [api.record(i)["status"] for i in (1, 2, 3, 4)]

    api.put(single["url"], b"1", {"Content-Type": "text/plain"})
    api.complete(finished, api.upload_parts(finished, [b"2"]))
    api.cancel(cancelled)

    assert before == ["pending"] * 4
    assert [api.record(i)["status"] for i in (1, 2, 3, 4)] == [
        "uploaded",
        "uploaded",
        "cancelled",
        "pending",
    ]
    record = api.record(2)
    assert set(record) == {"id", "filename", "status", "created_at"}
    assert record["id"] == 2 and record["filename"] == "two.bin"
    created = datetime.datetime.fromisoformat(record["created_at"].replace("Z", "+00:00"))
    assert created.tzinfo is not None
    # GET /v2/upload: pending ones by default, else what the filters ask for
    listed = api.call("GET", "/v2/upload").json()
    assert [u["id"] for u in listed] == [4]
    by_status = api.call("GET", "/v2/upload", query={"statuses": "uploaded,cancelled"}).json()
    assert [u["id"] for u in by_status] == [1, 2, 3]
    by_id = api.call("GET", "/v2/upload", query={"ids": "3,1,99"}).json()
    assert [(u["id"], u["status"]) for u in by_id] == [(1, "uploaded"), (3, "cancelled")]
    both = api.call("GET", "/v2/upload", query={"ids": "1,4", "statuses": "pending"}).json()
    assert [u["id"] for u in both] == [4]


def test_keys_stay_inside_the_bucket_folder(api: Api) -> None:
    for name in ("../../etc/passwd", "a/b\\c", "..", "tab\there"):
        key = api.initiate(name)["key"]
        assert key.startswith("uploads/") and key.count("/") == 2 and ".." not in key.split("/")
