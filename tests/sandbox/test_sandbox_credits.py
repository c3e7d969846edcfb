"""Per-session credits (2026 update 7): the balance call's rules, charges, 1006, the daily claim."""
import json

import pytest

from tests.sandbox.wire import image_body, video_body

CREDIT = "/commerce/v1/benefits/user_credit"
RECEIVE = "/commerce/v1/benefits/credit_receive"
IMAGE_PAGE = "https://jimeng.jianying.com/ai-tool/image/generate"
DEFAULT_QUERY = ("aid", "device_platform", "region", "da_version", "os", "web_component_open_flag", "web_version",
                 "aigc_features", "webId")


def balance(jimeng, session="sess-alice", region="cn") -> dict:
    headers = {"Referer": IMAGE_PAGE} if region == "cn" else {}
    answer = jimeng.call(CREDIT, {}, session=session, region=region, drop=DEFAULT_QUERY, headers=headers)
    assert answer["ret"] == "0", answer
    return answer["data"] if "data" in answer else json.loads(answer["response"])


def receive(jimeng, session="sess-alice", time_zone="Asia/Shanghai", **kw) -> dict:
    return jimeng.call(RECEIVE, {"time_zone": time_zone}, session=session, **kw)


def set_credits(client, session, credits, claimable=True):
    resp = client.post("/_sandbox/credits", json={"session": session, "credits": credits, "claimable": claimable})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


@pytest.mark.parametrize("param", ["aid", "da_version", "web_version", "region"])
def test_cn_balance_with_a_default_query_param_is_1014(jimeng, param):
    drop = tuple(p for p in DEFAULT_QUERY if p != param)
    answer = jimeng.call(CREDIT, {}, drop=drop, headers={"Referer": IMAGE_PAGE})
    assert answer["ret"] == "1014" and param in answer["errmsg"]


@pytest.mark.parametrize("referer", [None, "https://jimeng.jianying.com/ai-tool/generate?type=video",
                                     "https://jimeng.jianying.com/"])
def test_cn_balance_without_the_image_page_referer_is_1014(jimeng, referer):
    headers = {"Referer": referer} if referer else {}
    assert jimeng.call(CREDIT, {}, drop=DEFAULT_QUERY, headers=headers)["ret"] == "1014"


def test_abroad_balance_is_a_json_string_in_response(jimeng):
    answer = jimeng.call(CREDIT, {}, region="us", drop=DEFAULT_QUERY)
    assert answer["ret"] == "0" and "data" not in answer and isinstance(answer["response"], str)
    assert json.loads(answer["response"])["credit"]["purchase_credit"] == 100_000


def test_each_accepted_generate_deducts_and_refusals_deduct_nothing(jimeng, client):
    fp = set_credits(client, "sess-pay", 30)["session"]
    assert jimeng.submit(video_body(duration_ms=5000), session="sess-pay")["ret"] == "0"     # 5 s: 25 credits
    assert balance(jimeng, "sess-pay")["credit"]["purchase_credit"] == 5
    assert jimeng.submit(video_body("bad [sandbox:nope]"), session="sess-pay")["ret"] == "1000"
    refused = jimeng.submit(video_body(duration_ms=5000), session="sess-pay")
    assert refused["ret"] == "1006" and refused["errmsg"].startswith("Not enough credits left")
    assert refused["data"]["fail_starling_key"] == "web_dre_m10n_generate_popup_credit_ininsufficient_title"
    assert refused["data"]["fail_code"] == "1006"
    assert balance(jimeng, "sess-pay")["credit"]["purchase_credit"] == 5
    assert [r["session"] for r in client.get("/_sandbox/records").get_json()["records"]].count(fp) == 1
    three = image_body(model="high_aes_general_v30l:general_v3.0_18b", resolution="1k", size=(1328, 1328))
    assert jimeng.submit(three, session="sess-pay")["ret"] == "0"       # 4 images of 3.0 at 1 credit: 4
    assert balance(jimeng, "sess-pay")["credit"]["purchase_credit"] == 1


def test_daily_claim_adds_credits_once_per_day(jimeng, clock):
    set_credits(jimeng.client, "sess-claim", 0)
    first = receive(jimeng, "sess-claim")
    assert first["ret"] == "0" and first["data"]["receive_quota"] == 60 and first["data"]["is_first_receive"]
    data = balance(jimeng, "sess-claim")
    assert data["credit"]["gift_credit"] == 60 and data["expiring_credits"][0]["credit_amount"] == 60
    assert receive(jimeng, "sess-claim")["data"]["receive_quota"] == 0
    assert jimeng.submit(video_body(duration_ms=5000), session="sess-claim")["ret"] == "0"   # gift spent first
    assert balance(jimeng, "sess-claim")["credit"]["gift_credit"] == 35
    clock.advance(86400)
    assert receive(jimeng, "sess-claim")["data"]["receive_quota"] == 60


def test_abroad_daily_credits_show_only_as_expiring(jimeng):
    assert receive(jimeng, "broke-us", "America/Los_Angeles", region="us")["ret"] == "0"
    data = balance(jimeng, "broke-us", region="us")
    assert data["credit"]["gift_credit"] == 0 and data["expiring_credits"][0]["credit_amount"] == 60
    assert data["credits_detail"]["gift_credits"][0]["residual_credits"] == 60


def test_session_kinds_and_the_admin_knob(jimeng, client):
    assert jimeng.submit(video_body(), session="nocredit-x")["ret"] == "1006"
    assert receive(jimeng, "nocredit-x")["data"]["receive_quota"] == 0
    assert jimeng.submit(video_body(), session="broke-x")["ret"] == "1006"
    assert receive(jimeng, "broke-x")["data"]["receive_quota"] == 60
    assert jimeng.submit(video_body(), session="broke-x")["ret"] == "0"
    set_credits(client, "sess-knob", 0, claimable=False)
    assert receive(jimeng, "sess-knob")["data"]["receive_quota"] == 0
    answer = set_credits(client, "sess-knob", 7)
    assert answer["credits"] == 7 and "sess-knob" not in json.dumps(answer)


@pytest.mark.parametrize("body", [{}, {"time_zone": ""}, {"time_zone": "Mars/Olympus"}, {"time_zone": 8}])
def test_claim_needs_a_real_time_zone(jimeng, body):
    assert jimeng.call(RECEIVE, body)["ret"] == "34010100"


@pytest.mark.parametrize("body", [{}, {"session": "s", "credits": -1}, {"session": "s", "credits": "9"},
                                  {"session": "s", "credits": 1, "claimable": "yes"}])
def test_admin_knob_refuses_bad_input(client, body):
    assert client.post("/_sandbox/credits", json=body).status_code == 400


def test_abroad_claim_without_the_page_signatures_is_minus_4_and_adds_nothing(jimeng):
    answer = jimeng.call(RECEIVE, {"time_zone": "Asia/Tokyo"}, session="broke-jp", region="jp", page_signed=False)
    assert answer["ret"] == "-4" and answer["errmsg"] == "shark check reject"
    assert receive(jimeng, "broke-jp", "Asia/Tokyo", region="jp")["ret"] == "0"     # signed: claimed
    assert receive(jimeng, "broke-cn", page_signed=False)["data"]["receive_quota"] == 60   # CN: direct works
