"""`doctor` and `capture-diff` in the command-line client, against a mocked service."""
from __future__ import annotations

import json

import pytest
import responses

from app import cli

BASE = "http://service.test"
TOKEN = "secret-session-id-123"


def check(name, status="ok", **extra) -> dict:
    return {"name": name, "status": status, "code": None, "message": f"{name} fine", "fix": None, "ms": 12, **extra}


def doctor_answer(*checks) -> dict:
    return {"ok": all(c["status"] != "failed" for c in checks), "checked_at": 1770000000,
            "accounts": [{"account": "cn:…d-123", "region": "cn", "ok": True, "checks": list(checks)}]}


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def run(*argv: str) -> int:
    return cli.main(["--base-url", BASE, "--token", TOKEN, *argv])


def test_doctor_prints_a_table_and_exits_0_when_every_check_passed(mocked, capsys):
    mocked.get(f"{BASE}/v1/doctor", json=doctor_answer(check("login"), check("workspace", "skipped")))

    assert run("doctor") == 0

    out = capsys.readouterr().out
    assert "cn:…d-123  login      ok" in out and "workspace  skipped" in out and "all checks passed" in out
    assert out.splitlines()[0].split() == ["ACCOUNT", "CHECK", "STATUS", "MS", "WHAT"]
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_doctor_exits_non_zero_and_says_what_to_do_when_a_check_failed(mocked, capsys):
    failed = check("history", "failed", code="upstream_changed", message="Jimeng refused this client's protocol",
                   fix="set JIMENG_DA_VERSION=3.3.31 and restart")
    mocked.get(f"{BASE}/v1/doctor", json=doctor_answer(check("login"), failed))

    assert run("doctor") == 1

    out = capsys.readouterr().out
    assert "history  FAILED" in out and "upstream_changed: Jimeng refused" in out
    assert "- cn:…d-123 history: set JIMENG_DA_VERSION=3.3.31 and restart" in out


def test_doctor_json_prints_the_service_answer(mocked, capsys):
    answer = doctor_answer(check("login"))
    mocked.get(f"{BASE}/v1/doctor", json=answer)

    assert run("doctor", "--json") == 0
    assert json.loads(capsys.readouterr().out) == answer


REPORT = {"summary": "1 of our calls compared; 1 differ (history_list); apply 1 setting(s) and restart: "
                     "JIMENG_DA_VERSION=3.3.31", "requests": 40, "jimeng_calls": 3,
          "comparison": [{"call": "history_list", "path": "/mweb/v1/get_history", "seen": 1, "status": "different",
                          "differences": [{"where": "query", "name": "da_version", "ours": "3.3.28",
                                           "theirs": "3.3.31", "setting": "JIMENG_DA_VERSION=3.3.31"}]}],
          "calls_we_never_make": [{"path": "/mweb/v1/feed", "seen": 2}], "settings": ["JIMENG_DA_VERSION=3.3.31"]}


def test_capture_diff_uploads_the_file_and_ends_with_the_settings_to_paste(mocked, capsys, tmp_path):
    har = tmp_path / "jimeng.har"
    har.write_text('{"log": {"entries": []}}')
    mocked.post(f"{BASE}/v1/doctor/capture", json=REPORT)

    assert run("capture-diff", str(har)) == 1

    sent = mocked.calls[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert (sent.body.read() if hasattr(sent.body, "read") else sent.body) == har.read_bytes()
    out = capsys.readouterr().out
    assert "query  da_version: ours '3.3.28', theirs '3.3.31'  -> JIMENG_DA_VERSION=3.3.31" in out
    assert "/mweb/v1/feed (2)" in out
    assert out.rstrip().endswith("settings to apply (then restart the service):\nJIMENG_DA_VERSION=3.3.31")


def test_capture_diff_prints_what_was_not_compared_and_why(mocked, capsys, tmp_path):
    har = tmp_path / "jimeng.har"
    har.write_text('{"log": {"entries": []}}')
    call = {"call": "history", "path": "/mweb/v1/get_history_by_ids", "seen": 1, "status": "partly_compared",
            "differences": [], "not_compared": [{"where": "body", "name": "(body)",
                                                 "reason": "the browser's body holds more than 20,000 values"}]}
    mocked.post(f"{BASE}/v1/doctor/capture", json={**REPORT, "settings": [], "comparison": [call]})

    assert run("capture-diff", str(har)) == 0
    out = capsys.readouterr().out
    assert "history (/mweb/v1/get_history_by_ids, seen 1): partly_compared" in out
    assert "  body   (body): not compared: the browser's body holds more than 20,000 values" in out


def test_capture_diff_exits_0_when_nothing_is_to_be_set(mocked, tmp_path):
    har = tmp_path / "jimeng.har"
    har.write_text("{}")
    mocked.post(f"{BASE}/v1/doctor/capture", json={**REPORT, "settings": [], "comparison": []})

    assert run("capture-diff", str(har)) == 0


def test_capture_diff_of_a_missing_file_is_a_usage_error(capsys):
    assert run("capture-diff", "/nonexistent/jimeng.har") == 2
    assert "no such file" in capsys.readouterr().err


def test_a_refused_capture_shows_the_services_error(mocked, tmp_path, capsys):
    har = tmp_path / "x.har"
    har.write_text("not json")
    mocked.post(f"{BASE}/v1/doctor/capture", status=400, json={"error": {
        "code": "invalid_capture", "message": "the capture is not valid JSON", "param": "file"}})

    assert run("capture-diff", str(har)) == 2
    assert "the capture is not valid JSON (code invalid_capture, HTTP 400, param file)" in capsys.readouterr().err
