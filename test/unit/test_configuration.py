"""Configuration: environment, auth settings, logging without global side effects."""

from __future__ import annotations

import copy
import gc
import http.client
import logging
import threading
from pathlib import Path

import pytest

from lilt import configuration as configuration_module
from lilt.configuration import DEFAULT_HOST, Configuration


def test_defaults_match_the_generated_client() -> None:
    config = Configuration()
    assert config.host == DEFAULT_HOST
    assert config.server_index == 0
    assert config.api_key == {} and config.api_key_prefix == {}
    assert config.username is None and config.password is None
    assert config.verify_ssl is True
    assert config.safe_chars_for_path_param == ""
    assert config.retries is None
    assert config.auth_settings() == {}
    assert config.to_debug_report().splitlines()[0] == "Python SDK Debug Report:"
    assert config.get_host_settings() == [
        {"url": DEFAULT_HOST, "description": "No description provided"}
    ]


def test_environment_supplies_key_and_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LILT_API_KEY", "envkey")
    monkeypatch.setenv("LILT_API_HOST", "http://127.0.0.1:1")
    config = Configuration()
    assert (config.username, config.password, config.host) == (
        "envkey",
        "envkey",
        "http://127.0.0.1:1",
    )
    assert Configuration(host="http://x", username="u", password="p").username == "u"


def test_host_given_explicitly_wins_over_server_index() -> None:
    """Defect 12: host=X, server_index=0 silently ignored X."""
    assert Configuration(host="http://h", server_index=0).host == "http://h"
    with pytest.raises(ValueError, match="Invalid index 3"):
        Configuration(server_index=3).host  # noqa: B018


def test_basic_only_when_both_are_set_and_empty_key_is_no_auth() -> None:
    both = Configuration(username="u", password="p", api_key={"ApiKeyAuth": "k"}).auth_settings()
    assert list(both) == ["BasicAuth"]
    assert Configuration(api_key={"ApiKeyAuth": ""}).auth_settings() == {}
    assert Configuration(api_key={"ApiKeyAuth": "k"}).auth_settings()["ApiKeyAuth"]["value"] == "k"


def test_repr_never_shows_credentials() -> None:
    config = Configuration(
        username="user-secret", password="pass-secret", api_key={"ApiKeyAuth": "key-secret"}
    )
    text = repr(config)
    assert all(s not in text for s in ("user-secret", "pass-secret", "key-secret"))
    assert "basic" in text


def test_debug_touches_no_process_global_http_state() -> None:
    """Defect 16: debug set http.client's class-wide debuglevel and the urllib3 logger."""
    no_debug_wanted()
    urllib3_level = logging.getLogger("urllib3").level
    before = http.client.HTTPConnection.debuglevel
    toggled = Configuration(debug=True)
    Configuration(debug=False)
    toggled.debug = False
    assert http.client.HTTPConnection.debuglevel == before
    assert logging.getLogger("urllib3").level == urllib3_level
    package = logging.getLogger("lilt")

    def installed() -> int:
        return len([h for h in package.handlers if getattr(h, "_lilt_debug", False)])

    first, second = Configuration(debug=True), Configuration(debug=True)
    assert installed() == 1 and package.level == logging.DEBUG
    first.debug = False
    assert installed() == 1  # the other configuration still wants it
    second.debug = False
    assert installed() == 0 and package.level == logging.NOTSET


def no_debug_wanted() -> None:
    """Start from no configuration wanting debug output (earlier tests may have left some)."""
    configuration_module._debug_configurations.clear()
    configuration_module._reconcile_debug_handler()


def debug_handlers() -> int:
    return len([h for h in logging.getLogger("lilt").handlers if getattr(h, "_lilt_debug", False)])


@pytest.mark.parametrize("copier", ["deepcopy", "get_default_copy"])
def test_debug_handler_count_survives_copies(copier: str) -> None:
    """A copy with debug on wants the handler as much as its original (it used to be uncounted)."""
    no_debug_wanted()
    original = Configuration(debug=True)
    if copier == "deepcopy":
        copied = copy.deepcopy(original)
    else:
        Configuration.set_default(original)
        try:
            copied = Configuration.get_default_copy()
        finally:
            Configuration.set_default(None)
    assert copied.debug and debug_handlers() == 1
    original.debug = False
    assert debug_handlers() == 1, "the copy still has debug on"
    copied.debug = False
    assert debug_handlers() == 0
    # and the other way round: turning the copy off first keeps the original's handler
    original.debug = True
    second = copy.deepcopy(original)
    second.debug = False
    assert debug_handlers() == 1
    original.debug = False
    assert debug_handlers() == 0


def test_a_dropped_debug_configuration_stops_wanting_the_handler() -> None:
    no_debug_wanted()
    kept = Configuration(debug=True)
    dropped = [Configuration(debug=True), copy.deepcopy(kept)]
    assert debug_handlers() == 1
    del dropped
    gc.collect()
    assert debug_handlers() == 1  # kept still wants it
    del kept
    gc.collect()
    assert debug_handlers() == 0


def test_logger_file_replaces_its_handler_and_deepcopy_adds_none(tmp_path: Path) -> None:
    """Defect 27: each assignment or deep copy added another FileHandler."""
    package = logging.getLogger("lilt")
    before = list(package.handlers)
    config = Configuration()
    config.logger_file = str(tmp_path / "a.log")
    config.logger_file = str(tmp_path / "b.log")
    copied = copy.deepcopy(config)
    added = [h for h in package.handlers if h not in before]
    assert len(added) == 1 and added[0].baseFilename.endswith("b.log")  # type: ignore[attr-defined]
    assert copied.logger_file == config.logger_file
    config.logger_file = None
    assert package.handlers == before


def test_get_default_is_one_instance_across_threads_and_copy_is_a_copy() -> None:
    """Defect 25: unsynchronised lazy init; get_default_copy returned the shared instance."""
    Configuration.set_default(None)
    seen: list[Configuration] = []
    threads = [
        threading.Thread(target=lambda: seen.append(Configuration.get_default())) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert Configuration.get_default_copy() is not seen[0]
    Configuration.set_default(None)


def test_lilt_log_environment_variable_turns_on_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LILT_LOG", "debug")
    assert Configuration().debug is True
    monkeypatch.setenv("LILT_LOG", "")
    assert Configuration().debug is False


def test_environment_host_does_not_override_an_explicit_server_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LILT_API_HOST", "http://127.0.0.1:1")
    assert Configuration(server_index=0).host == DEFAULT_HOST
