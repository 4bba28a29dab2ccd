"""The test HTTP server answering like LILT's upload routes when nothing is queued.

Tests queue replies (status, headers, body, delay) with ``server.queue``;
every request is recorded in ``server.seen`` with its raw request line,
headers and body, so tests assert on the wire itself.
"""

from __future__ import annotations

import json

from support.http_server import Reply, Seen, Upstream

__all__ = ["RecordingServer", "Reply", "Seen", "default_reply"]


def default_reply(seen: Seen) -> Reply:
    """What LILT answers on each route when the test scripted nothing."""
    method, path, body = seen.method, seen.path, seen.body
    if method == "GET" and path == "/v2/upload":
        return Reply(
            body=[
                {
                    "id": 1,
                    "filename": "a.txt",
                    "status": "pending",
                    "created_at": "2026-01-02T03:04:05Z",
                }
            ]
        )
    if method == "GET" and path.startswith("/v2/upload/s3/multipart/"):
        return Reply(
            body={"url": "https://storage.example/part?X-Amz-Signature=abc", "method": "PUT"}
        )
    if method == "GET" and path.startswith("/v2/upload/s3/params"):
        return Reply(body={"url": "https://storage.example/o", "key": "k", "method": "PUT"})
    if method == "GET" and path.startswith("/v2/upload/"):
        return Reply(
            body={
                "id": int(path.rsplit("/", 1)[1]),
                "filename": "a.txt",
                "status": "uploaded",
                "created_at": "2026-01-02T03:04:05Z",
            }
        )
    if method == "POST" and path.endswith("/complete"):
        return Reply(body={"success": True, "location": "https://storage.example/o"})
    if method == "POST" and path in ("/v2/upload/s3/multipart", "/v2/upload/s3/params"):
        parsed = json.loads(body or b"{}")
        one = (
            {"uploadId": "U1", "key": "uploads/k"}
            if path.endswith("multipart")
            else {"url": "https://storage.example/o", "key": "uploads/k", "method": "PUT"}
        )
        return Reply(body=[one] * len(parsed) if isinstance(parsed, list) else one)
    if method == "DELETE":
        return Reply(body={"success": True, "message": "aborted"})
    return Reply(status=404, body={"message": "no such route"})


class RecordingServer(Upstream):
    """``with RecordingServer() as server:``; ``server.url`` is the base URL."""

    def __init__(self) -> None:
        super().__init__(default_reply)

    @property
    def last(self) -> Seen:
        return self.seen[-1]
