"""TLS: verification is on by default, fails clearly, and succeeds with the right CA.

An HTTPS server on 127.0.0.1 with a certificate from a throwaway CA (trustme).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
import urllib3

import lilt
from lilt.exceptions import ApiConnectionError, ApiException, ApiSSLError
from support.http_server import Reply, Seen, Upstream

KEY = "tls-Secret-Key-987654"
UPLOAD = {"id": 3, "filename": "a.txt", "status": "uploaded", "created_at": "2026-01-02T03:04:05Z"}


def answer(seen: Seen) -> Reply:
    return Reply(body=UPLOAD)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def https_server(ca: trustme.CA, *names: str) -> Upstream:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return Upstream(answer, tls=context)


@pytest.fixture
def server(ca: trustme.CA) -> Iterator[Upstream]:
    with https_server(ca, "127.0.0.1") as running:
        yield running


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def call(config: lilt.Configuration) -> int:
    with lilt.ApiClient(config) as client:
        return lilt.UploadsApi(client).get_upload_by_id(3).id


def test_verification_is_on_by_default(server: Upstream) -> None:
    config = lilt.Configuration(host=server.url)
    assert config.verify_ssl is True
    with lilt.ApiClient(config) as client:
        pool_kw = client.rest_client.pool_manager.connection_pool_kw
        assert pool_kw["cert_reqs"] == ssl.CERT_REQUIRED


def test_an_untrusted_certificate_is_a_clear_ssl_error(server: Upstream) -> None:
    config = lilt.Configuration(host=server.url, api_key={"ApiKeyAuth": KEY})
    with pytest.raises(ApiSSLError) as caught:
        call(config)
    error = caught.value
    assert isinstance(error, ApiConnectionError) and isinstance(error, ApiException)
    assert isinstance(error, urllib3.exceptions.SSLError)
    assert error.status == 0
    assert "CERTIFICATE_VERIFY_FAILED" in str(error)
    assert KEY not in str(error) and KEY not in repr(error)
    # a certificate problem is not retried, and nothing was sent
    assert server.seen == []


def test_the_ca_bundle_makes_it_work(server: Upstream, ca_file: str) -> None:
    assert call(lilt.Configuration(host=server.url, ssl_ca_cert=ca_file)) == 3
    assert [s.path for s in server.seen] == ["/v2/upload/3"]


def test_ca_cert_data_makes_it_work(server: Upstream, ca: trustme.CA) -> None:
    pem = ca.cert_pem.bytes().decode("ascii")
    assert call(lilt.Configuration(host=server.url, ca_cert_data=pem)) == 3


def test_a_certificate_for_another_name_is_refused_even_with_the_ca(
    ca: trustme.CA, ca_file: str
) -> None:
    with https_server(ca, "storage.example") as other, pytest.raises(ApiSSLError) as caught:
        call(lilt.Configuration(host=other.url, ssl_ca_cert=ca_file))
    assert "127.0.0.1" in str(caught.value) or "match" in str(caught.value).lower()
    assert other.seen == []


def test_switching_verification_off_is_possible_and_warned(server: Upstream) -> None:
    config = lilt.Configuration(host=server.url)
    config.verify_ssl = False
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert call(config) == 3


def test_plain_http_to_a_tls_port_is_a_connection_error(server: Upstream) -> None:
    config = lilt.Configuration(host=server.url.replace("https://", "http://"), retries=0)
    with pytest.raises(ApiConnectionError):
        call(config)
