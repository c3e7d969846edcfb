"""The API keys and accounts files: what is accepted, what is refused (and that errors name no secret)."""
from __future__ import annotations

import json

import pytest

from app.services.api_keys import ApiKeys, parse_keys
from app.net.proxies import ProxyAllowlist
from app.services.pool import parse_accounts
from app.state.watched_file import ConfigFileError

NONE = ProxyAllowlist.parse("")
PUBLIC = ProxyAllowlist.parse("203.0.113.0/24")


def test_keys_are_parsed_with_their_options():
    keys = parse_keys({"keys": [{"name": "a", "key": "k" * 16, "admin": True, "models": ["m"],
                                 "submits_per_minute": 5}]})
    assert keys[0].name == "a" and keys[0].admin and keys[0].models == {"m"} and keys[0].submits_per_minute == 5
    assert "k" * 16 not in repr(keys[0])


@pytest.mark.parametrize("entry, problem", [
    ({"name": "a", "key": "short"}, "at least 16"),
    ({"name": "", "key": "k" * 16}, "name"),
    ({"name": "a", "key": "k" * 16, "admin": "yes"}, "admin"),
    ({"name": "a", "key": "k" * 16, "models": "m"}, "models"),
    ({"name": "a", "key": "k" * 16, "submits_per_minute": 0}, "submits_per_minute"),
    ({"name": "a", "key": "k" * 16, "extra": 1}, "unknown"),
])
def test_bad_key_entries_are_refused_by_name(entry, problem):
    with pytest.raises(ConfigFileError, match=problem):
        parse_keys({"keys": [entry]})


def test_a_key_used_twice_is_refused_without_showing_it():
    with pytest.raises(ConfigFileError) as err:
        parse_keys({"keys": [{"name": "a", "key": "s" * 20}, {"name": "b", "key": "s" * 20}]})
    assert "s" * 20 not in str(err.value)


def test_find_compares_every_key(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [{"name": "a", "key": "a" * 16}, {"name": "b", "key": "b" * 16}]}))
    keys = ApiKeys(str(path))
    assert keys.find("b" * 16).name == "b" and keys.find("c" * 16) is None and keys.find("") is None


def test_a_missing_file_stops_the_start(tmp_path):
    with pytest.raises(ConfigFileError, match="cannot read"):
        ApiKeys(str(tmp_path / "absent.json"))


def test_accounts_default_to_one_parallel_task_and_keep_their_region():
    accounts = parse_accounts({"accounts": [{"label": "a1", "session_id": "us-abcdef"}]}, NONE)
    assert accounts[0].max_parallel == 1 and accounts[0].token.region.code == "us"
    assert accounts[0].token.session_id == "abcdef" and accounts[0].token.account == "a1"


def test_an_account_proxy_must_pass_the_allowlist():
    entry = {"label": "a1", "session_id": "sess", "proxy": "http://10.0.0.5:8080"}
    with pytest.raises(ConfigFileError, match="proxy"):
        parse_accounts({"accounts": [entry]}, NONE)
    with pytest.raises(ConfigFileError, match="proxy"):
        parse_accounts({"accounts": [entry]}, PUBLIC)         # not in the listed network
    entry["proxy"] = "http://203.0.113.7:8080"
    assert parse_accounts({"accounts": [entry]}, PUBLIC)[0].token.proxy == "http://203.0.113.7:8080"


@pytest.mark.parametrize("entry, problem", [
    ({"label": "a", "session_id": "http://p:1@zzsecret"}, "session_id"),
    ({"label": "a", "session_id": "bad zzsecret;"}, "malformed"),
    ({"label": "a", "session_id": "s", "max_parallel": 0}, "max_parallel"),
    ({"session_id": "s"}, "label"),
])
def test_bad_account_entries_are_refused_without_the_session_id(entry, problem):
    with pytest.raises(ConfigFileError, match=problem) as err:
        parse_accounts({"accounts": [entry]}, NONE)
    assert "zzsecret" not in str(err.value)


def test_duplicate_labels_are_refused():
    with pytest.raises(ConfigFileError, match="twice"):
        parse_accounts({"accounts": [{"label": "a", "session_id": "s1"}, {"label": "a", "session_id": "s2"}]}, NONE)


# -- gunicorn.conf.py: an in-memory pool and several workers -----------------------------------------
class FakeServer:
    """What gunicorn's on_starting hook reads of the arbiter: the final worker count and its log."""

    def __init__(self, workers: int) -> None:
        self.cfg = type("Cfg", (), {"workers": workers})()
        self.errors: list[str] = []
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.log = type("Log", (), {"error": lambda _, msg, *a: self.errors.append(msg % a),
                                    "info": lambda _, msg, *a: self.infos.append(msg % a),
                                    "warning": lambda _, msg, *a: self.warnings.append(msg % a)})()


def gunicorn_conf(monkeypatch, tmp_path, **env) -> dict:
    import runpy
    from pathlib import Path

    for name in ("JIMENG_ACCOUNTS_FILE", "REDIS_URL", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))   # no temp dir of its own
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))


@pytest.mark.parametrize("env", [{"JIMENG_ACCOUNTS_FILE": "accounts.json"},
                                 {"JIMENG_ACCOUNTS_FILE": "accounts.json", "REDIS_URL": "redis://r:6379/0"}, {}])
def test_one_worker_per_core_plus_one_with_or_without_a_pool_or_redis(monkeypatch, tmp_path, env):
    """The pool's counts are in the host's shared store without Redis: several workers agree, so
    nothing is refused and nothing needs saying at start."""
    import os

    conf = gunicorn_conf(monkeypatch, tmp_path, **env)
    assert conf["workers"] == (os.cpu_count() or 1) + 1
    server = FakeServer(4)
    conf["on_starting"](server)
    assert server.errors == server.infos == server.warnings == []
