"""What the sandbox refuses before doing any work, as the real Jimeng would (protocol 2)."""
import json

import pytest

from sandbox import checks, create_sandbox

from tests.sandbox.wire import FakeClock, Jimeng, jimeng_sign

HISTORY = "/mweb/v1/get_history_by_ids"
CREDIT = "/commerce/v1/benefits/user_credit"
IMAGE_PAGE = "https://jimeng.jianying.com/ai-tool/image/generate"
DEFAULT_QUERY = ("aid", "device_platform", "region", "da_version", "os", "web_component_open_flag",
                 "web_version", "aigc_features", "webId")


def test_sign_matches_the_captured_browser_request():
    # Protocol 2.3: device-time 1759223155 on /mweb/v1/aigc_draft/generate signed this way.
    assert checks.sign("/mweb/v1/aigc_draft/generate", "7", "8.4.0", "1759223155") == \
        "6b509d9f32ed1aa23caf557e9c009471"


def test_captured_sign_is_accepted_at_the_captured_time():
    clock = FakeClock(start=1759223155)
    jimeng = Jimeng(create_sandbox({"clock": clock}).test_client(use_cookies=False), clock)
    answer = jimeng.call("/mweb/v1/aigc_draft/generate", {},
                         headers={"Sign": "6b509d9f32ed1aa23caf557e9c009471", "Device-Time": "1759223155"})
    # Signing passed; the refusal is about the (empty) body, not the Sign.
    assert (answer["ret"], answer["errmsg"].startswith("invalid parameter: submit_id")) == ("1000", True)


def test_wrong_sign_is_refused_with_3018(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, headers={"Sign": "0" * 32})
    assert answer["ret"] == "3018"
    assert "Sign header" in answer["errmsg"]


def test_sign_over_another_path_is_refused(jimeng, clock):
    device_time = str(int(clock()))
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]},
                         headers={"Sign": jimeng_sign("/mweb/v1/aigc_draft/generate", device_time)})
    assert answer["ret"] == "3018"


def test_stale_device_time_is_refused(jimeng, clock):
    stale = str(int(clock()) - 301)
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]},
                         headers={"Device-Time": stale, "Sign": jimeng_sign(HISTORY, stale)})
    assert answer["ret"] == "3018"
    assert "Device-Time" in answer["errmsg"]


def test_old_app_version_is_refused_even_when_signed_with_it(jimeng, clock):
    now = str(int(clock()))
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]},
                         headers={"Appvr": "5.8.0", "Sign": jimeng_sign(HISTORY, now, appvr="5.8.0")})
    assert answer["ret"] == "3018"
    assert "Appvr" in answer["errmsg"]


def test_missing_os_param_is_refused_with_3018(jimeng):
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, drop=("os",))["ret"] == "3018"


def test_missing_default_param_is_named(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, drop=("web_version",))
    assert answer["ret"] == "1000"
    assert "web_version" in answer["errmsg"]


def test_cn_call_without_web_id_is_refused(jimeng):
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, drop=("webId",))["ret"] == "1000"


def test_web_id_that_differs_from_the_cookie_is_risk_controlled(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, cookies={"_tea_web_id": "7000000000000000001"})
    assert answer["ret"] == "1019"


def test_appid_must_equal_the_aid_param(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, headers={"Appid": "513641"})
    assert answer["ret"] == "1000"
    assert "Appid" in answer["errmsg"]


def test_cn_aid_with_an_abroad_region_is_refused(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, query={"region": "HK"})
    assert answer["ret"] == "1000"
    assert "region" in answer["errmsg"]


def test_abroad_call_needs_no_web_id(jimeng):
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, region="hk")["ret"] == "0"


def test_missing_session_cookie_is_login_expired(jimeng):
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, drop=("sessionid",))["ret"] == "1015"


def test_session_cookies_must_agree(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, cookies={"sid_tt": "someone-else"})
    assert answer["ret"] == "1015"
    assert "sid_tt" in answer["errmsg"]


def test_sid_guard_must_start_with_the_session_id(jimeng):
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, cookies={"sid_guard": "x%7C1%7C2"})["ret"] == "1015"


def test_invalid_session_is_refused_everywhere(jimeng):
    for path in (HISTORY, "/mweb/v1/get_upload_token", "/passport/account/info/v2"):
        assert jimeng.call(path, {"history_ids": ["1"]}, session="invalid-123")["ret"] == "1015"


def test_credit_query_needs_no_query_params(jimeng):
    data = jimeng.data(CREDIT, {}, drop=DEFAULT_QUERY, headers={"Referer": IMAGE_PAGE})
    assert data["credit"] == {"gift_credit": 0, "purchase_credit": 100_000, "vip_credit": 0}


def test_credit_query_is_still_signed(jimeng):
    assert jimeng.call(CREDIT, {}, drop=DEFAULT_QUERY, headers={"Sign": "f" * 32})["ret"] == "3018"


def test_abroad_commerce_answer_carries_response_string_and_sign(jimeng):
    answer = jimeng.call(CREDIT, {}, region="hk", drop=DEFAULT_QUERY)
    assert "log_id" in answer and "sign" in answer and "data" not in answer
    assert json.loads(answer["response"])["credit"]["purchase_credit"] == 100_000


def test_session_alive_answers_a_user_id(jimeng):
    assert jimeng.data("/passport/account/info/v2", {}, query={"account_sdk_source": "web"})["user_id"]


@pytest.mark.parametrize("version", ["3.3.9", "3.3.20", "3.3.28"])
def test_the_da_versions_clients_used_in_2026_are_accepted(jimeng, version):
    # 3.3.9 ([LJ], [DB]), 3.3.20 ([ZN]) and 3.3.28 ([SB], [DR]) all worked; none was reported refused.
    assert jimeng.call(HISTORY, {"history_ids": ["1"]}, query={"da_version": version})["ret"] == "0"


def test_a_da_version_from_before_the_january_gate_is_refused(jimeng):
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]}, query={"da_version": "3.3.2"})
    assert answer["ret"] == "3018" and "da_version" in answer["errmsg"]
