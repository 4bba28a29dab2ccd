"""Response handling without sockets: a canned urllib3 response through the pipeline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import urllib3

import lilt
from lilt.rest import RESTResponse


def _response(body: bytes, status: int = 200, **headers: str) -> RESTResponse:
    raw = urllib3.HTTPResponse(body=body, status=status, headers=headers, preload_content=True)
    response = RESTResponse(raw)
    response.read()
    return response


def test_response_deserialize_requires_read() -> None:
    raw = urllib3.HTTPResponse(body=b"{}", status=200, preload_content=False)
    with (
        lilt.ApiClient(lilt.Configuration()) as client,
        pytest.raises(lilt.ApiValueError, match="read"),
    ):
        client.response_deserialize(RESTResponse(raw), {"200": "Error"})


def test_generated_style_type_names_still_resolve() -> None:
    with lilt.ApiClient(lilt.Configuration()) as client:
        result = client.response_deserialize(
            _response(b'[{"id": 1}]', **{"Content-Type": "application/json"}),
            {"200": "List[GetPendingUploads200ResponseInner]"},
        )
        assert result.data[0].id == 1
        assert client.deserialize('{"message": "m"}', "Error", "application/json").message == "m"
        assert client.deserialize("plain", "str", "text/plain") == "plain"
        with pytest.raises(lilt.ApiException, match="Unsupported content type"):
            client.deserialize("x", "str", "application/xml")


def test_downloaded_file_names_cannot_escape_the_temp_folder(tmp_path: Path) -> None:
    """Defect 17: the server's Content-Disposition filename was joined unsanitised."""
    config = lilt.Configuration()
    config.temp_folder_path = str(tmp_path / "inbox")
    os.mkdir(config.temp_folder_path)
    response = _response(
        b"data", **{"Content-Disposition": 'attachment; filename="../../escape.txt"'}
    )
    with lilt.ApiClient(config) as client:
        path = client.response_deserialize(response, {"200": "file"}).data
    assert os.path.dirname(path) == config.temp_folder_path
    assert Path(path).read_bytes() == b"data"
    assert not (tmp_path / "escape.txt").exists()


def test_only_the_lilt_package_is_shipped() -> None:
    """Defect 14: the generated wheel also installed a top-level `workflow_tests` package."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the test extra installs tomli where tomllib is missing
        import tomli as tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["name"] == "lilt"
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["lilt*"]


class ScriptedTransport:
    """A transport (``ApiClient(transport=...)``) that records requests and answers from a script."""

    def __init__(self, *answers: tuple[int, bytes]) -> None:
        self.answers = list(answers)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.closed = False

    def request(
        self,
        method: str,
        url: str,
        headers: object = None,
        body: object = None,
        post_params: object = None,
        _request_timeout: object = None,
    ) -> RESTResponse:
        assert isinstance(headers, dict)
        self.requests.append((method, url, dict(headers)))
        status, payload = self.answers.pop(0)
        raw = urllib3.HTTPResponse(
            body=payload,
            status=status,
            preload_content=False,
            headers={"Content-Type": "application/json"},
        )
        return RESTResponse(raw, url)

    def close(self) -> None:
        self.closed = True


def test_the_transport_is_an_argument_of_the_client() -> None:
    transport = ScriptedTransport(
        (200, b'{"id": 7, "filename": "a.bin"}'), (404, b'{"message": "no"}')
    )
    configuration = lilt.Configuration(host="https://api.example.test", api_key={"ApiKeyAuth": "k"})
    with lilt.ApiClient(configuration, transport=transport) as client:
        assert client.rest_client is transport
        api = lilt.UploadsApi(client)
        assert api.get_upload_by_id(7).filename == "a.bin"
        with pytest.raises(lilt.exceptions.NotFoundException):
            api.get_upload_by_id(8)
    assert [(m, u.split("?")[0]) for m, u, _ in transport.requests] == [
        ("GET", "https://api.example.test/v2/upload/7"),
        ("GET", "https://api.example.test/v2/upload/8"),
    ]
    assert all(h["Accept"] == "application/json" for _, _, h in transport.requests)
    assert transport.closed
