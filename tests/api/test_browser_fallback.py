"""BROWSER_TRANSPORT=auto on a host without a usable Chromium: a refused submit says the browser
is missing (503 browser_unavailable, with the fix and Jimeng's words), and one refused account must
not turn a model into 503 for everyone (nothing is learned). Jimeng is mocked at the HTTP boundary and refuses one session only."""
from __future__ import annotations

import json

import responses

from app.factory import create_app
from tests.api.helpers import auth
from tests.conftest import UPSTREAM
from tests.jimeng_fakes import GENERATE_URL, envelope

RISK_MESSAGE = "生成失败，疑似存在异常行为，请重新尝试"


def answer_per_session(request):
    if "sessionid=risky-account" in request.headers.get("Cookie", ""):
        refusal = {**envelope(None, "4013", RISK_MESSAGE), "fail_starling_message": RISK_MESSAGE}
        return 200, {}, json.dumps(refusal, ensure_ascii=False)
    return 200, {}, json.dumps(envelope({"aigc_data": {"history_record_id": "4722540945676"}}))


@responses.activate
def test_a_refused_account_gets_503_with_the_fix_and_healthy_accounts_keep_working(tmp_path):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "BROWSER_TRANSPORT": "auto",
                      "BROWSER_EXECUTABLE": str(tmp_path / "no-chromium-here")})
    client = app.test_client()
    responses.add_callback(responses.POST, GENERATE_URL, callback=answer_per_session)
    submit = {"prompt": "a paper boat", "model": "jimeng-video-seedance-2.0"}

    healthy = client.post("/v1/videos/generations", json=submit, headers=auth("healthy-account"))
    assert healthy.status_code == 200, healthy.get_json()

    risky = client.post("/v1/videos/generations", json=submit, headers=auth("risky-account"))
    assert risky.status_code == 503, risky.get_json()
    assert risky.get_json()["error"]["code"] == "browser_unavailable"
    assert "BROWSER_EXECUTABLE" in risky.get_json()["error"]["message"]     # the fix
    assert RISK_MESSAGE in risky.get_json()["error"]["message"]             # Jimeng's own words

    again = client.post("/v1/videos/generations", json=submit, headers=auth("healthy-account"))
    assert again.status_code == 200, again.get_json()            # nothing learned from one account
    assert len(responses.calls) == 3                             # each submit sent once, none resent
