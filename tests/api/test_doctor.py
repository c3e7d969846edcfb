"""GET /v1/doctor: read-only probes per account, each with our error code and a fix; and the
degraded signal of /healthz. Jimeng is mocked at the HTTP boundary."""
from __future__ import annotations

import json
import threading

import pytest
import responses

from app.factory import create_app
from tests.api.helpers import auth
from tests.conftest import UPSTREAM
from tests.jimeng_fakes import envelope

SESSION = "doctor-session-0123456789"
READS = {
    "/passport/account/info/v2": {"user_id": 42, "screen_name": "someone"},
    "/commerce/v1/benefits/user_credit": {"credit": {"gift_credit": 60, "purchase_credit": 10, "vip_credit": 0}},
    "/mweb/v1/get_history": {"records_list": [], "has_more": False, "next_offset": 0},
    "/mweb/v1/video_generate/get_common_config": {"model_list": [
        {"model_req_key": "dreamina_ic_generate_video_model_vgfm_3.5_pro", "model_status": 0}]},
    "/mweb/v1/get_upload_token": {"access_key_id": "AKID", "secret_access_key": "SECRET", "session_token": "T",
                                  "space_name": "tb4s082cfz", "upload_domain": "imagex.bytedanceapi.com"},
    "/mweb/v1/workspace/list": {"workspace_list": [{"workspace_id": 249443284237}]},
}
WRITES = ("/mweb/v1/aigc_draft/generate", "/commerce/v1/benefits/credit_receive", "CommitImageUpload",
          "ApplyImageUpload", "/mweb/v1/algo_proxy")


@pytest.fixture
def jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def answer_reads(rsps, overrides: dict | None = None) -> None:
    """Every read answers as Jimeng does; `overrides` maps a path to another envelope."""
    for path, data in READS.items():
        body = (overrides or {}).get(path, envelope(data))
        rsps.post(f"{UPSTREAM}{path}", json=body)


def checks_of(answer: dict, account: int = 0) -> dict:
    return {c["name"]: c for c in answer["accounts"][account]["checks"]}


def test_a_healthy_account_passes_every_probe_and_nothing_is_generated(client, jimeng):
    answer_reads(jimeng)

    resp = client.get("/v1/doctor", headers=auth(SESSION))

    assert resp.status_code == 200
    answer = resp.get_json()
    checks = checks_of(answer)
    assert answer["ok"] is True and isinstance(answer["checked_at"], int)
    assert [c["status"] for c in answer["accounts"][0]["checks"]] == \
        ["ok", "ok", "ok", "ok", "ok", "skipped", "skipped", "skipped"]   # CN: no workspace; browser off
    assert checks["credits"]["message"] == "70 credits"
    assert checks["browser"]["message"] == "the browser transport is off (BROWSER_TRANSPORT=off)"
    assert all(set(c) >= {"name", "status", "code", "message", "fix", "ms"} for c in checks.values())
    sent = [call.request.url for call in jimeng.calls]
    assert not any(write in url for url in sent for write in WRITES), sent
    assert SESSION not in resp.get_data(as_text=True)
    assert answer["accounts"][0]["account"] == "cn:…6789"


def test_an_abroad_account_also_checks_its_workspace(client, jimeng):
    answer_reads(jimeng)

    checks = checks_of(client.get("/v1/doctor", headers=auth("us-" + SESSION)).get_json())

    assert checks["workspace"]["status"] == "ok"


def test_a_refusal_as_outdated_names_the_constants_and_the_capture_diff(client, jimeng):
    refused = envelope({"aigc_data": None, "fail_code": "1017"}, ret="3018", errmsg="permission denied")
    answer_reads(jimeng, {p: refused for p in READS if p != "/commerce/v1/benefits/user_credit"})

    resp = client.get("/v1/doctor", headers=auth(SESSION))

    assert resp.status_code == 200
    answer = resp.get_json()
    checks = checks_of(answer)
    assert answer["ok"] is False
    assert checks["history"]["status"] == "failed" and checks["history"]["code"] == "upstream_changed"
    assert "JIMENG_DA_VERSION" in checks["history"]["fix"] and "/v1/doctor/capture" in checks["history"]["fix"]
    assert checks["credits"]["status"] == "ok"     # the credit query carries no default query: unaffected


def test_a_dead_session_says_log_in_again(client, jimeng):
    answer_reads(jimeng, {p: envelope(None, ret="1015", errmsg="login error") for p in READS})

    checks = checks_of(client.get("/v1/doctor", headers=auth(SESSION)).get_json())

    assert checks["login"]["code"] == "token_invalid"
    assert checks["login"]["fix"] == "log in to Jimeng again and send the new sessionid"


def test_each_token_is_checked_in_its_own_entry(client, jimeng):
    answer_reads(jimeng)

    answer = client.get("/v1/doctor", headers=auth(SESSION, "hk-other-session-987654")).get_json()

    assert [(a["region"], a["ok"]) for a in answer["accounts"]] == [("cn", True), ("hk", True)]


def test_a_probe_past_the_deadline_is_failed_and_the_answer_does_not_wait_for_it(clock, jimeng):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "DOCTOR_TIMEOUT": 0.5})
    app.extensions["clock"] = clock
    release = threading.Event()
    answer_reads(jimeng)
    history = f"{UPSTREAM}/mweb/v1/get_history"

    def hangs(request):
        release.wait(10)
        return 200, {}, json.dumps(envelope(READS["/mweb/v1/get_history"]))

    jimeng.remove(responses.POST, history)
    jimeng.add_callback(responses.POST, history, callback=hangs)
    try:
        checks = checks_of(app.test_client().get("/v1/doctor", headers=auth(SESSION)).get_json())
    finally:
        release.set()

    assert checks["history"]["status"] == "failed" and checks["history"]["code"] == "upstream_timeout"
    assert "DOCTOR_TIMEOUT" in checks["history"]["message"]
    assert checks["login"]["status"] == "ok"


def test_without_a_token_the_doctor_is_401(client):
    assert client.get("/v1/doctor").status_code == 401


def test_the_doctor_is_in_the_openapi_spec(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "get" in paths["/v1/doctor"] and "post" in paths["/v1/doctor/capture"]
    health = paths["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert health["upstream"]["enum"] == ["ok", "degraded", "unknown"]


# -- /healthz: the degraded signal ------------------------------------------------------------------

GENERATE = f"{UPSTREAM}/mweb/v1/aigc_draft/generate"


def refused_submit(client) -> int:
    return client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth(SESSION)).status_code


def test_healthz_says_degraded_after_a_few_refusals_as_outdated_and_recovers(client, clock, jimeng):
    jimeng.post(GENERATE, json=envelope({"aigc_data": None}, ret="3018", errmsg="permission denied"))
    assert client.get("/healthz").get_json()["upstream"] == "ok"

    statuses = [refused_submit(client) for _ in range(3)]
    health = client.get("/healthz")

    assert statuses == [502, 502, 502]
    assert health.status_code == 200
    assert (health.get_json()["upstream"], health.get_json()["upstream_refusals"]) == ("degraded", 3)
    clock.advance(300 + 60)    # the window (UPSTREAM_DEGRADED_WINDOW) and its last bucket have passed
    assert client.get("/healthz").get_json()["upstream"] == "ok"


def test_two_refusals_are_not_yet_degraded(client, jimeng):
    jimeng.post(GENERATE, json=envelope(None, ret="3018", errmsg="permission denied"))

    refused_submit(client)
    refused_submit(client)

    assert client.get("/healthz").get_json()["upstream"] == "ok"


def test_refusals_as_outdated_are_counted_by_call_in_the_metrics(client, jimeng):
    jimeng.post(GENERATE, json=envelope(None, ret="3018", errmsg="permission denied"))
    line = 'jimeng_api_upstream_refusals_total{call="generate",reason="protocol"}'

    def count() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        found = [ln for ln in text.splitlines() if ln.startswith(line)]
        return float(found[0].split()[-1]) if found else 0.0

    before = count()
    refused_submit(client)

    assert count() == before + 1


def test_other_refusals_do_not_count_as_outdated(client, jimeng):
    jimeng.post(GENERATE, json=envelope(None, ret="1006", errmsg="not enough credits"))

    for _ in range(3):
        assert refused_submit(client) == 402

    assert client.get("/healthz").get_json()["upstream_refusals"] == 0


# -- company mode ------------------------------------------------------------------------------------

ADMIN, MEMBER = "key-ops-0123456789abcdef", "key-a-0123456789abcdef"


@pytest.fixture
def company(tmp_path, clock):
    keys, accounts = tmp_path / "keys.json", tmp_path / "accounts.json"
    keys.write_text(json.dumps({"keys": [{"name": "ops", "key": ADMIN, "admin": True},
                                         {"name": "svc-a", "key": MEMBER}]}))
    accounts.write_text(json.dumps({"accounts": [{"label": "a1", "session_id": "pool-session-a1-secret"},
                                                 {"label": "a2", "session_id": "us-pool-session-a2-secret"}]}))
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "API_KEYS_FILE": str(keys),
                      "JIMENG_ACCOUNTS_FILE": str(accounts)})
    app.extensions["clock"] = clock
    return app.test_client()


def test_an_admin_key_checks_every_pool_account(company, jimeng):
    answer_reads(jimeng)

    resp = company.get("/v1/doctor", headers={"Authorization": f"Bearer {ADMIN}"})

    assert resp.status_code == 200
    assert [(a["label"], a["region"], a["ok"]) for a in resp.get_json()["accounts"]] == \
        [("a1", "cn", True), ("a2", "us", True)]
    assert "pool-session" not in resp.get_data(as_text=True)


def test_other_api_keys_may_not_run_the_doctor(company, jimeng):
    for path, method in (("/v1/doctor", "get"), ("/v1/doctor/capture", "post")):
        resp = getattr(company, method)(path, headers={"Authorization": f"Bearer {MEMBER}"}, json={})
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert not jimeng.calls


def test_the_catalogue_check_names_our_models_jimeng_no_longer_lists(client, jimeng):
    answer_reads(jimeng)   # the live catalogue lists one model key only

    catalogue = checks_of(client.get("/v1/doctor", headers=auth(SESSION)).get_json())["catalogue"]

    assert catalogue["status"] == "ok"
    assert catalogue["message"].startswith("1 of our models offered to this account; not listed by Jimeng: ")
    assert "jimeng-video-seedance-2.0 (dreamina_seedance_40_pro)" in catalogue["message"]


def test_the_regions_page_is_opened_once_whatever_the_number_of_its_accounts(client, jimeng):
    answer_reads(jimeng)

    answer = client.get("/v1/doctor", headers=auth(SESSION, "another-cn-session-42")).get_json()

    second = checks_of(answer, 1)
    assert second["browser"]["status"] == "skipped" and second["page_witness"]["status"] == "skipped"
    assert second["browser"]["message"] == "the browser transport is off (BROWSER_TRANSPORT=off)"
