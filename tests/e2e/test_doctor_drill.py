"""End to end with real Chromium: the doctor on today's sandbox finds nothing and spends nothing, and
the drift drills (`make drill`) hold: Jimeng moves, the doctor and a HAR recorded by Chromium name
the setting, a restart with it makes submits pass again. No session id shows in any answer or log."""
from __future__ import annotations

import json
import secrets

import pytest
import requests

from sandbox.drill import DEFAULT_DRIFT, PAGE, record_har, run_drill
from tests.e2e.conftest import TIMEOUT, session_for

pytestmark = pytest.mark.e2e

WRITES = ("/mweb/v1/aigc_draft/generate", "/commerce/v1/benefits/credit_receive", "/?Action=CommitImageUpload",
          "/?Action=ApplyImageUpload", "/?Action=CommitUploadInner", "/mweb/v1/algo_proxy")


def test_the_doctor_on_todays_jimeng_finds_nothing_and_spends_nothing(stack):
    http = session_for(f"e2e-doctor-{secrets.token_hex(6)},e2e-doctor-{secrets.token_hex(6)}")
    requests.delete(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT)

    answer = http.get(f"{stack.service_url}/v1/doctor", timeout=(5, 90)).json()

    checks = {c["name"]: c for c in answer["accounts"][0]["checks"]}
    assert answer["ok"] is True, checks
    second = {c["name"]: c for c in answer["accounts"][1]["checks"]}
    assert second["browser"]["status"] == "skipped"
    assert second["browser"]["message"].startswith("the region's page was checked with cn:")
    assert checks["browser"]["status"] == "ok"
    witness = checks["page_witness"]
    assert witness["status"] == "ok" and witness["settings"] == []
    assert [(c["call"], c["status"]) for c in witness["comparison"]] == \
        [("account", "same"), ("catalogue", "same"), ("history_list", "same")]
    made = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]
    assert not [path for path in made if path in WRITES], made
    assert made[PAGE] == 1


def test_a_har_recorded_by_chromium_on_todays_page_names_no_setting(stack, tmp_path):
    har = tmp_path / "today.har"
    record_har(f"{stack.sandbox_url}{PAGE}", f"e2e-operator-{secrets.token_hex(6)}", har)

    report = session_for("e2e-operator-token").post(f"{stack.service_url}/v1/doctor/capture", data=har.read_bytes(),
                                                    headers={"Content-Type": "application/json"},
                                                    timeout=TIMEOUT).json()

    assert report["settings"] == [] and report["jimeng_calls"] == 3
    assert {c["status"] for c in report["comparison"]} == {"same"}


def test_a_sanitized_chromium_har_with_the_session_elsewhere_shows_it_nowhere(stack, tmp_path):
    """Chrome's sanitized export drops the Cookie headers and keeps each request's cookies list; the
    session id, planted where the page could echo it (a header, a query parameter, a body field, under
    names that say nothing of a session), is never answered, proposed as a setting, or logged."""
    session = f"e2e-operator-{secrets.token_hex(6)}"
    recorded = tmp_path / "today.har"
    record_har(f"{stack.sandbox_url}{PAGE}", session, recorded)
    capture = json.loads(recorded.read_text())
    for item in capture["log"]["entries"]:
        request = item["request"]
        request["headers"] = [h for h in request["headers"] if h["name"].lower() != "cookie"]
        if "/mweb/v1/get_history" in request["url"]:
            request["headers"].append({"name": "X-Ref", "value": session})
            request["url"] += f"&ref={session}"
            request["postData"]["text"] = json.dumps({**json.loads(request["postData"]["text"]), "extra": session})
    assert session in json.dumps(capture) and '"name": "Cookie"' not in json.dumps(capture)

    resp = session_for("e2e-operator-token").post(f"{stack.service_url}/v1/doctor/capture", json=capture,
                                                  timeout=TIMEOUT)

    assert resp.status_code == 200 and session.lower() not in resp.text.lower()
    report = resp.json()
    assert report["settings"] == [] and report["jimeng_calls"] == 3
    history = next(c for c in report["comparison"] if c["call"] == "history_list")
    planted = [d for d in history["differences"] if d["name"] in ("X-Ref", "ref", "extra")]
    assert [(d["theirs"], d["setting"]) for d in planted] == [("(present)", None)] * 3
    assert session not in (stack.log_dir / "service.log").read_text()


@pytest.mark.parametrize("drift, settings", [
    (DEFAULT_DRIFT, ["JIMENG_DA_VERSION=3.3.31"]),
    ("app_version=8.5.0,header=X-Jm-Client:web2,rename=count:page_size",
     ["JIMENG_APP_VERSION=8.5.0", "JIMENG_BODY_FIELDS=history_list:count>page_size",
      "JIMENG_EXTRA_HEADERS=*:X-Jm-Client=web2"]),
])
def test_the_drift_drill_holds(drift, settings):
    result = run_drill(drift, say=lambda line: None)

    assert {r["error"]["code"] for r in result.refusals} == {"upstream_changed"}
    assert result.health["upstream"] == "degraded" and result.health["upstream_refusals"] >= 3
    failed = {c["name"] for c in result.doctor["accounts"][0]["checks"] if c["status"] == "failed"}
    assert {"history", "catalogue", "page_witness"} <= failed
    assert result.witness_settings == settings
    assert result.capture["settings"] == settings
    assert result.final_task["status"] == "completed"
    assert result.seconds < 60
    for secret in (result.operator_session, result.client_token):
        assert secret not in result.logs
        assert secret not in str(result.capture) and secret not in str(result.doctor)
