"""Redaction, property-based: every secret form goes, and nothing else changes.

Completeness: a credential query value (``key``, ``X-Amz-Signature``, Azure
``sig`` ...) is gone from a URL written plainly, percent-encoded once or
twice inside another URL, or JSON-escaped; so are ``user:password@`` and
``Basic`` tokens, and any value a live client knows.

Precision: text without those forms comes back unchanged: prose with
"Basic", "Bearer", "realm", "key", "signature"; ``Basic realm="..."``; URLs
whose parameters carry no credential, plain or encoded.

The syntax rules are checked with ``secrets=()`` (no live client's values), so
what other tests leave open cannot change the outcome.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from lilt._redact import REDACTED, redact_text

PROPERTIES = settings(max_examples=300, deadline=None, derandomize=True, database=None)

SECRET_NAMES = [
    "key",
    "api_key",
    "apikey",
    "X-Amz-Signature",
    "x-amz-signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "Signature",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "AWSAccessKeyId",
    "sig",
    "SIG",
]
# what credentials are made of: token characters, including those URLs must encode
secret_values = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+=-_.~:"),
    min_size=8,
    max_size=40,
)
WORDS = [
    "Basic",
    "basic",
    "Bearer",
    "usage",
    "realm",
    "auth",
    "authentication",
    "the",
    "key",
    "keys",
    "signature",
    "sig",
    "token",
    "credentials",
    "scheme",
    "test",
    "example",
    "upload",
    "part",
    "is",
    "a",
    "not",
    "required",
    "Authorization:",
    "WWW-Authenticate:",
    "failed",
    "with",
    "for",
    "more",
    "information",
    "see",
    "docs",
    "value",
    "mode",
]
plain_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="=%@\\")
prose = st.lists(
    st.one_of(
        st.sampled_from(WORDS),
        st.text(plain_chars, max_size=12).filter(
            lambda w: "basic" not in w.lower() and "bearer" not in w.lower()
        ),
    ),
    max_size=30,
).map(" ".join)
param_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_.-]{0,12}", fullmatch=True).filter(
    lambda n: n.lower() not in {s.lower() for s in SECRET_NAMES}
)
param_values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


def url_with(name: str, value: str) -> str:
    return (
        f"https://storage.example/bucket/uploads/a.bin?partNumber=3&uploadId=U1"
        f"&{name}={quote(value)}&X-Amz-Date=20260101T000000Z"
    )


def json_escaped(text: str) -> str:
    """What an encoder that escapes ``/`` and ``&`` (as Go's does) writes."""
    return json.dumps(text).replace("/", "\\/").replace("&", "\\u0026")


FORMS = {
    "plain": lambda url: url,
    "encoded-once": lambda url: "https://api.example/next?to=" + quote(url, safe=""),
    "encoded-twice": lambda url: (
        "https://x/?u=" + quote("https://y/?u=" + quote(url, safe=""), safe="")
    ),
    "json-escaped": json_escaped,
}


def appears_as(form: str, value: str) -> str:
    """How ``value`` is written in the text of ``form``."""
    return {
        "plain": quote(value),
        "encoded-once": quote(quote(value), safe=""),
        "encoded-twice": quote(quote(quote(value), safe=""), safe=""),
        "json-escaped": quote(value).replace("/", "\\/"),
    }[form]


@PROPERTIES
@given(name=st.sampled_from(SECRET_NAMES), value=secret_values, form=st.sampled_from(sorted(FORMS)))
@example(
    name="X-Amz-Credential",
    value="AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request",
    form="encoded-once",
)
@example(name="sig", value="dGhpcyBpcyBhIHNpZw==/+x", form="plain")
def test_a_credential_parameter_is_gone_in_every_form(name: str, value: str, form: str) -> None:
    text = FORMS[form](url_with(name, value))
    written = appears_as(form, value)
    assume(written not in FORMS[form](url_with(name, "")))  # e.g. "partNumb": the URL's own text
    assert written in text
    cleaned = redact_text(text, secrets=())
    assert written not in cleaned
    assert REDACTED in cleaned
    # the rest of the URL is still readable
    assert "partNumber" in cleaned and "uploadId" in cleaned and "X-Amz-Date" in cleaned


@PROPERTIES
@given(
    user=secret_values.filter(lambda u: ":" not in u),
    password=secret_values,
    form=st.sampled_from(["plain", "encoded-once"]),
)
def test_user_info_in_a_url_is_gone(user: str, password: str, form: str) -> None:
    url = f"https://{quote(user, safe='')}:{quote(password, safe='')}@api.example/v2/upload"
    text = FORMS[form](url)
    cleaned = redact_text(text, secrets=())
    written = quote(password, safe="")
    if form == "encoded-once":
        written = quote(written, safe="")
    assert written in text and written not in cleaned
    assert "api.example" in cleaned


@PROPERTIES
@given(user=secret_values.filter(lambda u: ":" not in u), password=secret_values, context=prose)
def test_a_basic_token_is_gone(user: str, password: str, context: str) -> None:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    text = f"{context} Authorization: Basic {token} {context}"
    cleaned = redact_text(text, secrets=())
    assert token not in cleaned
    assert cleaned == f"{context} Authorization: Basic {REDACTED} {context}"


@PROPERTIES
@given(text=prose)
@example(text='WWW-Authenticate: Basic realm="uploads", charset="UTF-8"')
@example(text="Basic usage of the uploads API")
@example(text="Bearer token required")
@example(text="the key is not a signature")
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text, secrets=()) == text


@PROPERTIES
@given(
    names=st.lists(param_names, min_size=1, max_size=5),
    values=st.lists(param_values, min_size=5, max_size=5),
    form=st.sampled_from(sorted(FORMS)),
)
def test_urls_without_credentials_are_left_alone(
    names: list[str], values: list[str], form: str
) -> None:
    query = "&".join(f"{n}={quote(v)}" for n, v in zip(names, values))
    text = FORMS[form](f"https://api.example/v2/upload?{query}")
    assert redact_text(text, secrets=()) == text


@PROPERTIES
@given(text=st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact_text(text, secrets=())
    assert redact_text(once, secrets=()) == once


@PROPERTIES
@given(
    secret=st.text(min_size=4, max_size=30).filter(lambda s: s not in REDACTED),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_known_value_is_gone_wherever_it_is(secret: str, before: str, after: str) -> None:
    assert secret not in redact_text(before + secret + after + secret, secrets=[secret])
