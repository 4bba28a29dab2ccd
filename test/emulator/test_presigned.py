"""What storage enforces on the emulator's presigned URLs: signature, expiry, Content-Type.

These are the checks a fake S3 would skip (moto accepts all of them); they
pass only because the URLs are signed by botocore and checked by SeaweedFS.
"""

from __future__ import annotations

import calendar
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from emulator.conftest import Api

from lilt.testing import Emulator
from lilt.testing.proxy import FaultProxy

pytestmark = pytest.mark.storage


def _wait_until_expired(url: str) -> None:
    """Sleep until the URL's X-Amz-Date + X-Amz-Expires has passed, with a second to spare
    (S3 compares whole seconds); bounded by the 1 s lifetime these tests use."""
    query = dict(parse_qsl(urlsplit(url).query))
    signed = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    expires = signed + int(query["X-Amz-Expires"])
    time.sleep(min(5.0, max(0.0, expires + 1.1 - time.time())))


def test_expired_url_is_refused(api: Api, lilt_emulator: Emulator) -> None:
    lilt_emulator.url_lifetime = 1
    answer = api.initiate("late.txt", "text/plain")
    upload = api.initiate_multipart()
    part_url = api.sign(upload, 1, 4).json()["url"]
    assert "X-Amz-Expires=1&" in answer["url"]

    _wait_until_expired(part_url)

    late = api.put(answer["url"], b"late", {"Content-Type": "text/plain"})
    late_part = api.put(part_url, b"late")
    assert (late.status, late_part.status) == (403, 403)
    assert b"AccessDenied" in late.data
    assert lilt_emulator.list_objects() == []
    # a fresh URL from the same emulator works
    lilt_emulator.url_lifetime = 60
    fresh = api.initiate("late.txt", "text/plain")
    assert api.put(fresh["url"], b"in time", {"Content-Type": "text/plain"}).status == 200


def test_tampered_signature_is_refused(api: Api, lilt_emulator: Emulator) -> None:
    answer = api.initiate("t.txt", "text/plain")
    url = answer["url"]
    signature = dict(parse_qsl(urlsplit(url).query))["X-Amz-Signature"]
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]

    r = api.put(url.replace(signature, flipped), b"data", {"Content-Type": "text/plain"})

    assert r.status == 403 and b"SignatureDoesNotMatch" in r.data
    # so is a URL moved onto another key
    other = url.replace(answer["key"].split("/")[-1], "other.txt")
    assert api.put(other, b"data", {"Content-Type": "text/plain"}).status == 403
    assert lilt_emulator.list_objects() == []


def test_wrong_content_type_is_refused(api: Api, lilt_emulator: Emulator) -> None:
    answer = api.initiate("page.html", "text/html")

    wrong = api.put(answer["url"], b"<p>", {"Content-Type": "text/plain"})
    missing = api.put(answer["url"], b"<p>")

    assert (wrong.status, missing.status) == (403, 403)
    assert lilt_emulator.list_objects() == []
    assert api.put(answer["url"], b"<p>", {"Content-Type": "text/html"}).status == 200


def test_urls_carry_no_lilt_credentials(api: Api, lilt_emulator: Emulator) -> None:
    answer = api.initiate()
    assert lilt_emulator.api_key not in answer["url"]
    query = dict(parse_qsl(urlsplit(answer["url"]).query))
    assert "key" not in query
    assert set(query) == {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    }


def test_presign_endpoint_routes_uploads_through_a_proxy(api: Api, lilt_emulator: Emulator) -> None:
    with FaultProxy(lilt_emulator.storage.url) as proxy:
        lilt_emulator.presign_endpoint = proxy.url
        answer = api.initiate("via-proxy.txt", "text/plain")
        upload = api.initiate_multipart()
        part_url = api.sign(upload, 1, 3).json()["url"]

        assert answer["url"].startswith(proxy.url + "/")
        assert part_url.startswith(proxy.url + "/")
        assert api.put(answer["url"], b"hi!", {"Content-Type": "text/plain"}).status == 200
        etag = api.put(part_url, b"abc").headers["ETag"]
        done = api.complete(upload, [{"ETag": etag, "PartNumber": 1}])

    assert done.status == 200 and done.json()["location"].startswith(proxy.url + "/")
    assert lilt_emulator.read_object(answer["key"]) == b"hi!"
    assert lilt_emulator.read_object(upload["key"]) == b"abc"
    puts = [r for r in proxy.requests if r.method == "PUT"]
    assert len(puts) == 2
    assert {r.header("Host") for r in puts} == {urlsplit(proxy.url).netloc}
    # the emulator itself still talks to storage directly
    assert not [r for r in proxy.requests if r.method != "PUT"]
    # and a URL signed for the proxy's address does not verify at storage's own
    direct = answer["url"].replace(proxy.url, lilt_emulator.storage.url)
    assert api.put(direct, b"hi!", {"Content-Type": "text/plain"}).status == 403
    lilt_emulator.presign_endpoint = None
    assert api.initiate()["url"].startswith(lilt_emulator.storage.url + "/")
