"""Query and path encoding, property-based: what is sent decodes back to what was given."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lilt
from lilt.api_client import _quote

CLIENT = lilt.ApiClient(
    lilt.Configuration(host="http://127.0.0.1:1", api_key={"ApiKeyAuth": "k&=/"})
)
API = lilt.UploadsApi(CLIENT)
values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(upload_id=values, s3_key=values)
def test_path_and_query_values_round_trip(upload_id: str, s3_key: str) -> None:
    assume(upload_id not in (".", ".."))
    _, url, _, _, _ = API._cancel_multipart_upload_serialize(upload_id, s3_key, None, None, None, 0)
    parts = urlsplit(url)
    segment = parts.path.rsplit("/", 1)[1]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == upload_id
    pairs = [p.split("=", 1) for p in parts.query.split("&")]
    assert [k for k, _ in pairs] == ["s3Key", "key"]
    assert unquote(pairs[0][1]) == s3_key
    assert unquote(pairs[1][1]) == "k&=/"


@settings(max_examples=100, deadline=None)
@given(ids=st.none() | values, statuses=st.none() | values)
def test_optional_query_values_are_sent_only_when_given(
    ids: str | None, statuses: str | None
) -> None:
    _, url, _, _, _ = API._get_pending_uploads_serialize(ids, statuses, None, None, None, 0)
    query = urlsplit(url).query
    names = [p.split("=", 1)[0] for p in query.split("&")]
    expected = [n for n, v in (("ids", ids), ("statuses", statuses)) if v is not None] + ["key"]
    assert names == expected
    assert "None" not in query or "None" in (ids or "") + (statuses or "")


@given(
    number=st.integers(min_value=1, max_value=10_000),
    size=st.integers(min_value=0, max_value=5 * 2**30),
)
def test_sign_part_puts_the_part_number_in_the_path(number: int, size: int) -> None:
    _, url, _, _, _ = API._sign_upload_part_serialize("U", number, "k", size, None, None, None, 0)
    assert urlsplit(url).path == f"/v2/upload/s3/multipart/U/{number}"
    assert f"size={size}" in urlsplit(url).query


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
    | st.from_regex(r"[A-Za-z0-9_.~/-]*", fullmatch=True),
    safe=st.sampled_from(["", "/", "/:@", "-"]),
)
def test_quote_shortcut_is_exactly_quote(text: str, safe: str) -> None:
    assert _quote(text, safe) == quote(text, safe=safe)
