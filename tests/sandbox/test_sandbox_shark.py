"""The anti-abuse gate on generate (update 2.1, 2.5): what today's Jimeng refuses without the page's signatures."""
from __future__ import annotations

import json
import urllib.parse

import pytest

from sandbox import create_sandbox, shark
from tests.sandbox.wire import Jimeng, page_sign, video_body

GENERATE = "/mweb/v1/aigc_draft/generate"
SEEDANCE = dict(model="dreamina_seedance_40_pro", benefit="dreamina_video_seedance_20_pro")
SEEDANCE_FAST = dict(model="dreamina_seedance_40", benefit="dreamina_seedance_20_fast")
US_MODEL = dict(model="dreamina_ic_generate_video_model_vgfm_3.5_pro", aid=513641)


def records(client) -> list:
    return client.get("/_sandbox/records").get_json()["records"]


def raw_call(jimeng: Jimeng, client, body: bytes, query_string: str, *, region: str = "cn",
             headers: dict | None = None) -> dict:
    """POST exact bytes: the tests below change one byte of what was signed."""
    base_headers, _, cookies = jimeng.request_parts(GENERATE, "sess-alice", region)
    base_headers.update(headers or {})
    base_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    base_headers["Content-Type"] = "application/json"
    response = client.post(f"{GENERATE}?{query_string}", headers=base_headers, data=body)
    return response.get_json()


def signed_parts(jimeng: Jimeng, body: dict, region: str = "cn") -> tuple[bytes, str, str]:
    headers, query, _ = jimeng.request_parts(GENERATE, "sess-alice", region)
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    plain = urllib.parse.urlencode(query)
    return raw, plain, page_sign(plain, raw, headers["User-Agent"], abroad=region != "cn")


@pytest.mark.parametrize("model", [SEEDANCE, SEEDANCE_FAST])
def test_unsigned_seedance_2_is_refused_with_4013_and_nothing_is_created(jimeng, client, model):
    answer = jimeng.submit(video_body(**model), page_signed=False)

    assert answer["ret"] == "4013"
    assert answer["errmsg"] == "生成失败，疑似存在异常行为，请重新尝试"
    assert answer["fail_starling_key"] == "web_risk_control_message_reject_generation"
    assert answer["fail_starling_message"] == "生成失败，疑似存在异常行为，请重新尝试"
    assert answer["data"] is None
    assert records(client) == []


def test_legacy_switch_answers_1019_shark_not_pass(clock):
    client = create_sandbox({"clock": clock, "shark_legacy": True}).test_client(use_cookies=False)
    answer = Jimeng(client, clock).submit(video_body(**SEEDANCE), page_signed=False)
    assert (answer["ret"], answer["errmsg"]) == ("1019", "shark not pass")
    assert records(client) == []


@pytest.mark.parametrize("model", [SEEDANCE, SEEDANCE_FAST])
def test_page_signed_seedance_2_is_accepted(jimeng, client, model):
    answer = jimeng.submit(video_body(**model))
    assert answer["ret"] == "0", answer
    assert len(records(client)) == 1


def test_unprotected_cn_models_need_no_signature(jimeng):
    answer = jimeng.submit(video_body(), page_signed=False)
    assert answer["ret"] == "0", answer


def test_the_protected_set_is_configurable(clock):
    client = create_sandbox({"clock": clock, "protected_models": frozenset({
        "dreamina_ic_generate_video_model_vgfm_3.5_pro"})}).test_client(use_cookies=False)
    jimeng = Jimeng(client, clock)
    assert jimeng.submit(video_body(), page_signed=False)["ret"] == "4013"
    assert jimeng.submit(video_body(**SEEDANCE), page_signed=False)["ret"] == "0"


def test_signed_bytes_pass_exactly_as_signed(jimeng, client):
    raw, _, signed = signed_parts(jimeng, video_body(**SEEDANCE))
    assert raw_call(jimeng, client, raw, signed)["ret"] == "0"


def test_a_reserialised_body_fails_the_signature(jimeng, client):
    body = video_body(**SEEDANCE)
    _, _, signed = signed_parts(jimeng, body)
    spaced = json.dumps(body, ensure_ascii=False).encode()   # same JSON, other bytes

    assert raw_call(jimeng, client, spaced, signed)["ret"] == "4013"
    assert records(client) == []


def test_a_reordered_query_fails_the_signature(jimeng, client):
    raw, _, signed = signed_parts(jimeng, video_body(**SEEDANCE))
    head, tail = signed.split("&msToken=")
    params = head.split("&")
    reordered = "&".join(params[1:] + params[:1]) + "&msToken=" + tail

    assert raw_call(jimeng, client, raw, reordered)["ret"] == "4013"


def test_a_signature_made_for_another_user_agent_fails(jimeng, client):
    raw, _, signed = signed_parts(jimeng, video_body(**SEEDANCE))
    answer = raw_call(jimeng, client, raw, signed, headers={"User-Agent": "python-requests/2.34"})
    assert answer["ret"] == "4013"


def test_a_forged_ms_token_fails(jimeng, client):
    raw, plain, _ = signed_parts(jimeng, video_body(**SEEDANCE))
    query = plain + "&msToken=" + "A" * 171
    query += "&a_bogus=" + shark.signature(shark.A_BOGUS_KEY, query.encode(), raw,
                                           jimeng.request_parts(GENERATE, "s", "cn")[0]["User-Agent"])
    assert raw_call(jimeng, client, raw, query)["ret"] == "4013"


def test_signature_params_must_come_last(jimeng, client):
    raw, _, signed = signed_parts(jimeng, video_body(**SEEDANCE))
    assert raw_call(jimeng, client, raw, signed + "&extra=1")["ret"] == "4013"


def test_abroad_every_unsigned_generate_is_refused_with_minus_6(jimeng, client):
    answer = jimeng.submit(video_body(**US_MODEL), region="us", page_signed=False)

    assert (answer["ret"], answer["errmsg"]) == ("-6", "shark not pass reject")
    assert answer["data"]["fail_starling_message"] == (
        "Couldn't generate due to unusual activity in your account. Try again later.")
    assert records(client) == []


def test_abroad_a_cn_style_signature_is_not_enough(jimeng, client):
    headers, query, _ = jimeng.request_parts(GENERATE, "sess-alice", "us")
    raw = json.dumps(video_body(**US_MODEL), separators=(",", ":")).encode()
    cn_style = page_sign(urllib.parse.urlencode(query), raw, headers["User-Agent"], abroad=False)
    assert raw_call(jimeng, client, raw, cn_style, region="us")["ret"] == "-6"


def test_abroad_in_page_without_sign_headers_is_3018_with_fail_code_1017(jimeng, client):
    answer = jimeng.submit(video_body(**US_MODEL), region="us", drop=("Sign", "Device-Time", "Sign-Ver"))

    assert (answer["ret"], answer["errmsg"]) == ("3018", "permission denied")
    assert answer["data"] == {"aigc_data": None, "fail_code": "1017"}
    assert records(client) == []


@pytest.mark.parametrize("header", ["Loc", "Store-Country-Code", "Store-Country-Code-Src"])
def test_abroad_in_page_without_a_place_header_is_3018_with_fail_code_1017(jimeng, client, header):
    """Update 2.6: a Dreamina generate carries `loc US`, `store-country-code us`,
    `store-country-code-src uid` beside Sign; a page-signed call without one is the bare in-page fetch."""
    body = video_body(**US_MODEL)
    body["extend"]["workspace_id"] = jimeng.workspace_id(region="us")
    answer = jimeng.submit(body, region="us", drop=(header,))

    assert (answer["ret"], answer["errmsg"]) == ("3018", "permission denied")
    assert answer["data"] == {"aigc_data": None, "fail_code": "1017"}
    assert records(client) == []


@pytest.mark.parametrize("header, value", [("Loc", "us"), ("Store-Country-Code", "US"),
                                           ("Store-Country-Code", "sg"), ("Store-Country-Code-Src", "ip")])
def test_abroad_place_headers_must_be_spelt_as_the_capture_and_name_the_accounts_region(jimeng, client,
                                                                                        header, value):
    body = video_body(**US_MODEL)
    body["extend"]["workspace_id"] = jimeng.workspace_id(region="us")
    answer = jimeng.submit(body, region="us", headers={header: value})
    assert answer["ret"] == "3018" and answer["data"]["fail_code"] == "1017"
    assert records(client) == []


def test_cn_generate_needs_no_place_headers(jimeng):
    assert jimeng.submit(video_body(**SEEDANCE), drop=("Loc", "Lan"))["ret"] == "0"


def test_abroad_signed_with_sign_headers_is_accepted(jimeng, client):
    body = video_body(**US_MODEL)
    body["extend"]["workspace_id"] = jimeng.workspace_id(region="us")
    answer = jimeng.submit(body, region="us")
    assert answer["ret"] == "0", answer


def test_reads_stay_unprotected(jimeng):
    assert jimeng.call("/mweb/v1/get_history_by_ids", {"history_ids": ["1"]}, region="us",
                       page_signed=False)["ret"] == "0"
    assert jimeng.call("/mweb/v1/get_history_by_ids", {"history_ids": ["1"]},
                       page_signed=False)["ret"] == "0"


def test_the_page_loads_the_sdk_with_its_ready_globals(client):
    page = client.get("/ai-tool/video/generate")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "_SdkGlueInit(" in html and '"/mweb/v1/aigc_draft/generate"' in html

    sdk_path = html.split('<script src="')[1].split('"')[0]
    sdk = client.get(sdk_path).get_data(as_text=True)
    assert "window.bdms" in sdk and "window._SdkGlueInit" in sdk and "window.fetch = wrappedFetch" in sdk
    assert shark.A_BOGUS_KEY in sdk and "__SANDBOX_KEYS__" not in sdk


def test_each_page_load_issues_a_valid_ms_token(client):
    html = client.get("/ai-tool/video/generate").get_data(as_text=True)
    token = json.loads(html.split("_SdkGlueInit(")[1].split(");")[0])["msToken"]
    assert shark.ms_token_valid(token)
    assert not shark.ms_token_valid(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
