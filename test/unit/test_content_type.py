"""Which Content-Type a body gets: decided in one place for every caller."""

from __future__ import annotations

import lilt
from lilt._content_type import BYTES, JSON, choose_content_type


def test_a_given_type_wins_in_the_order_given() -> None:
    assert choose_content_type("text/csv", "application/xml", filename="a.json") == "text/csv"
    assert choose_content_type(None, "", "application/xml", default=JSON) == "application/xml"


def test_otherwise_the_file_name_decides_then_the_default() -> None:
    assert choose_content_type(filename="report.csv") == "text/csv"
    assert choose_content_type(None, filename="song.midi") == "audio/midi"  # a non-standard type
    assert choose_content_type(filename="blob.unknownext") == BYTES
    assert choose_content_type(None, None, default=JSON) == JSON


def test_the_operations_and_the_form_files_use_it() -> None:
    with lilt.ApiClient(lilt.Configuration(host="https://api.example.test")) as client:
        api = lilt.UploadsApi(client)
        body = lilt.InitiateUploadBody(filename="a.bin", type="application/zip")
        _, _, headers, _, _ = api._initiate_s3_upload_serialize(body, None, None, None, 0)
        assert headers["Content-Type"] == JSON
        _, _, headers, _, _ = api._initiate_s3_upload_serialize(
            body, None, None, {"content-type": "application/x.test+json"}, 0
        )
        assert headers["Content-Type"] == "application/x.test+json"
        assert client.files_parameters({"f": ("song.midi", b"x"), "g": b"y"}) == [
            ("f", ("song.midi", b"x", "audio/midi")),
            ("g", ("g", b"y", BYTES)),
        ]
