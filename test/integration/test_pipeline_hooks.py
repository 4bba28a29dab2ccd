"""The generated pipeline's public hooks still work, on a real server.

Code written against the generated client calls ``param_serialize`` →
``call_api`` → ``read`` → ``response_deserialize`` itself, subclasses
``ApiClient`` to override a step, or wraps ``RESTClientObject.request``. The
transport's new duties (deadlines, size limit, same-origin redirects) must not
change those names, signatures or the order in which operations use them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import lilt
from lilt.api_client import ApiClient
from lilt.exceptions import ApiTimeoutError
from lilt.rest import RESTClientObject, RESTResponse
from support.recording_server import RecordingServer, Reply

KEY = "hooks-key-5e2d"


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as running:
        yield running


def test_the_transport_keeps_the_generated_signature() -> None:
    params = inspect.signature(RESTClientObject.request).parameters
    assert [(p.name, p.default) for p in params.values()] == [
        ("self", inspect.Parameter.empty),
        ("method", inspect.Parameter.empty),
        ("url", inspect.Parameter.empty),
        ("headers", None),
        ("body", None),
        ("post_params", None),
        ("_request_timeout", None),
    ]
    assert list(inspect.signature(ApiClient.call_api).parameters) == [
        "self",
        "method",
        "url",
        "header_params",
        "body",
        "post_params",
        "_request_timeout",
    ]
    assert list(inspect.signature(ApiClient.response_deserialize).parameters) == [
        "self",
        "response_data",
        "response_types_map",
    ]
    assert list(inspect.signature(RESTResponse).parameters)[:1] == ["resp"]


def test_the_steps_called_by_hand_as_generated_code_does(server: RecordingServer) -> None:
    with ApiClient(lilt.Configuration(host=server.url, api_key={"ApiKeyAuth": KEY})) as client:
        method, url, headers, body, post_params = client.param_serialize(
            method="GET",
            resource_path="/v2/upload/{uploadId}",
            path_params={"uploadId": 5},
            header_params={"Accept": "application/json"},
            auth_settings=["BasicAuth", "ApiKeyAuth"],
        )
        response = client.call_api(method, url, headers, body, post_params, _request_timeout=5.0)
        assert isinstance(response, RESTResponse) and response.data is None
        assert response.read() == response.data
        result = client.response_deserialize(response, {"200": "GetPendingUploads200ResponseInner"})
        assert result.status_code == 200 and result.data.id == 5
        assert server.last.target == f"/v2/upload/5?key={KEY}"

        # the call's deadline holds here too: a stalled answer ends at 0.3 s
        server.queue(Reply(200, {"id": 5}, delay=5))
        with pytest.raises(ApiTimeoutError):
            client.call_api(method, url, headers, body, post_params, _request_timeout=0.3)


class CountingClient(ApiClient):
    """An ApiClient subclass overriding each step, as users of the generated client do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []

    def param_serialize(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("param_serialize")
        return super().param_serialize(*args, **kwargs)

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(f"call_api timeout={kwargs.get('_request_timeout')}")
        return super().call_api(*args, **kwargs)

    def response_deserialize(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("response_deserialize")
        return super().response_deserialize(*args, **kwargs)


def test_overridden_steps_are_used_by_every_mode(server: RecordingServer) -> None:
    with CountingClient(lilt.Configuration(host=server.url)) as client:
        api = lilt.UploadsApi(client)
        assert api.get_upload_by_id(3, _request_timeout=7).id == 3
        assert api.get_upload_by_id_with_http_info(3).data.id == 3
        raw = api.get_upload_by_id_without_preload_content(3)
        assert raw.status == 200 and b'"id": 3' in raw.read()
        raw.release_conn()
    assert client.calls == [
        "param_serialize",
        "call_api timeout=7.0",
        "response_deserialize",
        "param_serialize",
        "call_api timeout=None",
        "response_deserialize",
        "param_serialize",
        "call_api timeout=None",
    ]


def test_a_wrapped_transport_request_sees_every_call(server: RecordingServer) -> None:
    seen: list[tuple[str, str, Any]] = []

    class RecordingTransport(RESTClientObject):
        def request(
            self,
            method: str,
            url: str,
            headers: Any = None,
            body: Any = None,
            post_params: Any = None,
            _request_timeout: Any = None,
        ) -> RESTResponse:
            seen.append((method, url.split("?")[0], _request_timeout))
            return super().request(
                method,
                url,
                headers=headers,
                body=body,
                post_params=post_params,
                _request_timeout=_request_timeout,
            )

    configuration = lilt.Configuration(host=server.url)
    with ApiClient(configuration, transport=RecordingTransport(configuration)) as client:
        api = lilt.UploadsApi(client)
        api.initiate_multipart_upload(
            lilt.InitiateMultipartUploadBody(filename="a.bin", type="application/zip"),
            _request_timeout=(2, 3),
        )
    assert seen == [("POST", f"{server.url}/v2/upload/s3/multipart", (2.0, 3.0))]
