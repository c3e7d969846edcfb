"""The transport policy door of JimengClient: what goes direct, what goes through the browser, what is never resent.

Jimeng is mocked at the HTTP boundary (`responses`). The browser here has no executable, so a call
that needs it ends in 503 browser_unavailable before anything is sent; the real browser path is
covered end to end in tests/e2e/test_browser.py.
"""
from __future__ import annotations

import json

import pytest
import responses

from app import errors
from app.jimeng.browser import BrowserTransport, TransportPolicy, find_executable, is_risk_refusal
from app.jimeng.client import JimengClient
from app.jimeng.regions import REGIONS, parse_token
from tests.jimeng_fakes import GENERATE_URL, envelope

SEEDANCE = {"extend": {"root_model": "dreamina_seedance_40_pro"}, "submit_id": "s1", "draft_content": "中文"}
CN_REFUSAL = {"ret": "4013", "errmsg": "生成失败，疑似存在异常行为，请重新尝试", "data": None,
              "fail_starling_key": "web_risk_control_message_reject_generation",
              "fail_starling_message": "生成失败，疑似存在异常行为，请重新尝试"}


def client(mode: str) -> JimengClient:
    browser = BrowserTransport(executable=None, problem="no Chromium found on the PATH; install it",
                               socket_path="/nonexistent/never-started.sock")
    return JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, clock=lambda: 1770000000.0,
                        browser=browser, policy=TransportPolicy(mode))


@responses.activate
def test_bodies_are_sent_as_compact_utf8_json():
    responses.post(GENERATE_URL, json=envelope({"aigc_data": {"history_record_id": "1"}}))
    client("off").generate(parse_token("s"), SEEDANCE)
    sent = responses.calls[0].request
    assert sent.body == json.dumps(SEEDANCE, separators=(",", ":"), ensure_ascii=False).encode()
    assert sent.headers["Content-Type"] == "application/json"


@responses.activate
def test_off_answers_risk_control_with_jimengs_own_message_and_never_resends():
    responses.post(GENERATE_URL, json=CN_REFUSAL)
    with pytest.raises(errors.RiskControl) as info:
        client("off").generate(parse_token("s"), SEEDANCE)
    assert info.value.http_status == 403
    assert "生成失败，疑似存在异常行为，请重新尝试" in info.value.message
    assert len(responses.calls) == 1


@responses.activate
def test_auto_without_a_browser_is_browser_unavailable_with_the_fix_and_jimengs_refusal_and_learns_nothing():
    responses.post(GENERATE_URL, json=CN_REFUSAL)
    jimeng = client("auto")
    for _ in range(2):                                # not learned: the next submit goes direct again
        with pytest.raises(errors.BrowserUnavailable) as info:
            jimeng.generate(parse_token("s"), SEEDANCE)
        assert info.value.http_status == 503
        assert "install" in info.value.message                             # the fix
        assert "生成失败，疑似存在异常行为，请重新尝试" in info.value.message      # and Jimeng's own words
    assert len(responses.calls) == 2                  # one direct try each; the browser sent nothing
    assert jimeng.policy.learned() == []


@pytest.mark.parametrize("answer", [{"status": 502}, {"status": 504}, {"json": envelope(None, "1014", "busy")},
                                    {"json": envelope(None, "5000", "no credit")}])
@responses.activate
def test_auto_never_resends_a_submit_on_anything_but_a_risk_refusal(answer):
    responses.post(GENERATE_URL, **answer)
    with pytest.raises(errors.ServiceError) as info:
        client("auto").generate(parse_token("s"), SEEDANCE)
    assert not isinstance(info.value, errors.BrowserUnavailable)
    assert len(responses.calls) == 1


@responses.activate
def test_abroad_generate_always_needs_the_browser_and_sends_nothing_direct():
    with pytest.raises(errors.BrowserUnavailable):
        client("auto").generate(parse_token("us-s"), {"extend": {"root_model": "any"}})
    assert len(responses.calls) == 0


@responses.activate
def test_reads_never_go_through_the_browser():
    responses.post("http://jimeng.test/mweb/v1/get_history_by_ids", json=envelope({}))
    assert client("always").history_by_ids(parse_token("us-s"), ["1"]) == {}


def test_policy_modes():
    cn, us = REGIONS["cn"], REGIONS["us"]
    path, model = "/mweb/v1/aigc_draft/generate", "dreamina_seedance_40_pro"
    assert TransportPolicy("always").via_browser(cn, path, model)
    assert not TransportPolicy("off").via_browser(us, path, model)
    auto = TransportPolicy("auto")
    assert auto.via_browser(us, path, "x") and not auto.via_browser(cn, path, model)
    assert not TransportPolicy("off").resend_via_browser(cn, path, model, "4013", "")
    assert auto.resend_via_browser(cn, path, model, "4013", "")
    assert not auto.via_browser(cn, path, model)      # deciding to resend learns nothing
    auto.learn(path, model)
    assert auto.via_browser(cn, path, model) and not auto.via_browser(cn, path, "other")
    with pytest.raises(ValueError):
        TransportPolicy("sometimes")


@pytest.mark.parametrize("region,ret,fail_code,expected", [
    ("cn", "4013", "", True), ("cn", "1019", "", True), ("us", "-6", "", True),
    ("us", "3018", "1017", True), ("cn", "3018", "1017", False), ("us", "3018", "", False),
    ("cn", "1310", "", False), ("cn", "1006", "", False),
])
def test_definite_risk_refusals(region, ret, fail_code, expected):
    assert is_risk_refusal(REGIONS[region], ret, fail_code) is expected


def test_an_unusable_configured_executable_is_named_with_the_fix(tmp_path):
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    path, problem = find_executable(str(not_executable))
    assert path is None and "BROWSER_EXECUTABLE" in problem and "apt-get install" in problem


def test_healthz_reports_the_browser_state(app, client):
    body = client.get("/healthz").get_json()
    assert body["browser"] == {"transport": "off", "state": "off"}


@pytest.mark.parametrize("site,domain", [("https://jimeng.jianying.com", ".jianying.com"),
                                         ("https://dreamina.capcut.com", ".capcut.com")])
def test_context_cookies_sit_on_the_domain_the_api_hosts_share(site, domain):
    from app.jimeng.client import _context_cookies
    cookies = _context_cookies("sessionid=abc; sid_tt=abc; _tea_web_id=7", f"{site}/ai-tool/video/generate", site,
                               overridden=False)
    assert [(c["name"], c["value"]) for c in cookies] == [("sessionid", "abc"), ("sid_tt", "abc"), ("_tea_web_id", "7")]
    assert all(c["domain"] == domain and c["path"] == "/" and c["secure"] for c in cookies)


def test_context_cookies_sit_on_the_sandbox_host_when_the_upstream_is_overridden():
    from app.jimeng.client import _context_cookies
    cookies = _context_cookies("sessionid=abc", "http://127.0.0.1:8701/ai-tool/video/generate",
                               "https://jimeng.jianying.com", overridden=True)
    assert cookies == [{"name": "sessionid", "value": "abc", "domain": "127.0.0.1", "path": "/"}]


@responses.activate
def test_an_abroad_credit_claim_needs_the_browser_and_a_cn_claim_goes_direct():
    receive_url = "http://jimeng.test/commerce/v1/benefits/credit_receive"
    responses.post(receive_url, json=envelope({"receive_quota": 60}))
    with pytest.raises(errors.BrowserUnavailable):
        client("auto").receive_credits(parse_token("us-s"), "America/Los_Angeles")
    assert len(responses.calls) == 0                  # never sent unsigned: it would answer -4
    assert client("auto").receive_credits(parse_token("s"), "Asia/Shanghai")["receive_quota"] == 60
    assert len(responses.calls) == 1
