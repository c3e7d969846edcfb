"""Credits: the balance call's rules, the daily claim, and one resubmit after a credit refusal."""
import json

import pytest
import requests
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import (CREDIT_RECEIVE_URL, CREDIT_URL, GENERATE_URL, envelope, generate_answer)

NO_CREDITS = {"ret": "1006", "errmsg": "Not enough credits left (or no relevant benefits)",
              "data": {"fail_code": "1006", "fail_starling_key": "web_dre_m10n_generate_popup_credit_ininsufficient_title",
                       "fail_starling_message": "Not enough credits"}}


def receive_answer(quota: int) -> dict:
    return envelope({"is_first_receive": quota > 0, "receive_quota": quota, "has_popup": quota > 0,
                     "receive_inter_days": 1})


def calls_to(url: str) -> list:
    return [c for c in responses.calls if c.request.url.split("?")[0] == url]


@responses.activate
def test_balance_is_asked_without_query_params_and_with_the_image_page_referer(client):
    responses.post(CREDIT_URL, json=envelope({"credit": {"gift_credit": 60, "purchase_credit": 0, "vip_credit": 0}}))
    body = client.post("/token/points", headers=auth("sess-abcdefgh1234")).get_json()
    assert body[0]["points"]["totalCredit"] == 60
    sent = responses.calls[0].request
    assert sent.url == CREDIT_URL                       # no aid, no da_version, nothing
    assert sent.headers["Referer"] == "https://jimeng.jianying.com/ai-tool/image/generate"


@pytest.mark.parametrize("answer, total, expiring", [
    # HK log: a claimed 50 shows only under expiring_credits / credits_detail while `credit` says 0.
    ({"credit": {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0},
      "expiring_credits": [{"credit_amount": 50, "expire_time": 1770000000}],
      "credits_detail": {"gift_credits": [{"residual_credits": 50, "credits_life_end": 1770000000}]}}, 50, 50),
    # The same daily credits listed in both places count once.
    ({"credit": {"gift_credit": 60, "purchase_credit": 100, "vip_credit": 5},
      "expiring_credits": [{"credit_amount": 60, "expire_time": 1}]}, 165, 60),
    ({"credit": {"gift_credit": 0, "purchase_credit": 0, "vip_credit": 0},
      "credits_detail": {"gift_credits": [{"residual_credits": 30}, {"residual_credits": 12}]}}, 42, 42),
    # Junk beside a readable balance is ignored.
    ({"credit": {"gift_credit": 7, "purchase_credit": 0, "vip_credit": 0}, "expiring_credits": "junk"}, 7, 0),
])
@responses.activate
def test_expiring_credits_count_in_the_total(client, answer, total, expiring):
    responses.post(CREDIT_URL, json=envelope(answer))
    points = client.post("/token/points", headers=auth("sess")).get_json()[0]["points"]
    assert (points["totalCredit"], points["expiringCredit"]) == (total, expiring)


@pytest.mark.parametrize("answer", [
    {"ret": "0", "errmsg": "success", "data": None},
    {"ret": "0", "errmsg": "success"},
    {"ret": "0", "errmsg": "success", "data": {}},
    {"ret": "0", "errmsg": "success", "data": {"credit": "lots"}},
    {"ret": "0", "errmsg": "success", "data": {"credit": {"gift_credit": "x", "purchase_credit": 0}}},
    {"ret": "0", "errmsg": "success", "data": {"credit": {"gift_credit": 1, "purchase_credit": -5}}},
], ids=["null-data", "no-data", "empty-data", "credit-not-an-object", "unreadable-amount", "negative-amount"])
@responses.activate
def test_a_balance_answer_that_cannot_be_read_is_an_upstream_error_not_zero_credits(client, answer):
    # Issue 21: these read as 0 credits, telling the owner their account was empty.
    responses.post(CREDIT_URL, json=answer)

    resp = client.post("/token/points", headers=auth("sess"))

    assert resp.status_code == 502 and resp.get_json()["error"]["code"] == "upstream_error", resp.get_json()


@responses.activate
def test_abroad_balance_is_read_from_the_response_json_string(client):
    payload = {"credit": {"gift_credit": 136, "purchase_credit": 0, "vip_credit": 0}}
    responses.post(CREDIT_URL, json={"ret": "0", "errmsg": "success", "log_id": "x", "response": json.dumps(payload),
                                     "sign": "abc"})
    body = client.post("/token/points", headers=auth("us-abcdefgh12345678")).get_json()
    assert body == [{"token": "us:…5678", "points": {"giftCredit": 136, "purchaseCredit": 0, "vipCredit": 0,
                                                       "totalCredit": 136, "expiringCredit": 0}}]
    assert responses.calls[0].request.headers["Referer"] == "https://dreamina.capcut.com/ai-tool/image/generate"


@responses.activate
def test_receive_claims_with_the_accounts_time_zone_and_masks_tokens(client):
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(60))
    body = client.post("/token/receive", headers=auth("sess-abcdefgh1234", "jp-zyxwvuts9876")).get_json()
    assert body == [{"token": "cn:…1234", "received": 60, "firstReceive": True},
                    {"token": "jp:…9876", "received": 60, "firstReceive": True}]
    sent = [json.loads(c.request.body) for c in responses.calls]
    assert sent == [{"time_zone": "Asia/Shanghai"}, {"time_zone": "Asia/Tokyo"}]
    assert "aid=513695" in responses.calls[0].request.url          # the claim carries the default query
    assert "abcdefgh" not in json.dumps(body)


@responses.activate
def test_receive_reports_one_tokens_failure_in_its_item(client):
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(0))
    responses.post(CREDIT_RECEIVE_URL, json=envelope(None, ret="-4", errmsg="shark check reject"))
    resp = client.post("/token/receive", headers=auth("sess-one-12345678", "hk-two-87654321"))
    body = resp.get_json()
    assert resp.status_code == 200 and body[0] == {"token": "cn:…5678", "received": 0, "firstReceive": False}
    assert body[1]["token"] == "hk:…4321" and body[1]["error"]["code"] == "risk_control"


def test_receive_needs_a_token(client):
    assert client.post("/token/receive").status_code == 401


@responses.activate
@pytest.mark.parametrize("refusal", [NO_CREDITS, envelope(None, ret="5000", errmsg="not enough credits")])
def test_credit_refusal_claims_the_daily_credits_and_resubmits_once(client, refusal):
    responses.post(GENERATE_URL, json=refusal)
    responses.post(GENERATE_URL, json=generate_answer("4722540945676"))
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(60))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 200 and resp.get_json()["task_id"]
    generates = calls_to(GENERATE_URL)
    assert len(generates) == 2 and len(calls_to(CREDIT_RECEIVE_URL)) == 1
    assert generates[0].request.body == generates[1].request.body      # the same submit, sent once more


@responses.activate
def test_nothing_to_claim_answers_402_without_resubmitting(client):
    responses.post(GENERATE_URL, json=NO_CREDITS)
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(0))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    err = resp.get_json()["error"]
    assert resp.status_code == 402 and err["code"] == "insufficient_credits" and "already claimed" in err["message"]
    assert len(calls_to(GENERATE_URL)) == 1 and "task_id" not in err


@responses.activate
def test_a_failed_claim_answers_402_without_resubmitting(client):
    responses.post(GENERATE_URL, json=NO_CREDITS)
    responses.post(CREDIT_RECEIVE_URL, json=envelope(None, ret="34010100", errmsg="param error"))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 402 and "claiming the daily free credits failed" in resp.get_json()["error"]["message"]
    assert len(calls_to(GENERATE_URL)) == 1


@responses.activate
def test_a_second_refusal_stands_and_never_loops(client):
    responses.post(GENERATE_URL, json=NO_CREDITS)
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(60))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 402 and "still not enough" in resp.get_json()["error"]["message"]
    assert len(calls_to(GENERATE_URL)) == 2 and len(calls_to(CREDIT_RECEIVE_URL)) == 1


@responses.activate
def test_other_refusals_claim_nothing(client):
    responses.post(GENERATE_URL, json=envelope(None, ret="4013", errmsg="risk"))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 403 and not calls_to(CREDIT_RECEIVE_URL)


@responses.activate
def test_a_claim_that_timed_out_is_never_sent_again(client):
    # The first claim may have gone through: a repeat would answer 0 and hide what it added.
    responses.post(GENERATE_URL, json=NO_CREDITS)
    responses.post(CREDIT_RECEIVE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(0))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 402 and "claiming the daily free credits failed" in resp.get_json()["error"]["message"]
    assert len(calls_to(CREDIT_RECEIVE_URL)) == 1 and len(calls_to(GENERATE_URL)) == 1


@responses.activate
def test_token_receive_reports_a_timed_out_claim_instead_of_a_repeat_that_says_0(client):
    responses.post(CREDIT_RECEIVE_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.post(CREDIT_RECEIVE_URL, json=receive_answer(0))
    claim = client.post("/token/receive", headers=auth("sess")).get_json()[0]
    assert claim.get("received") != 0 and len(calls_to(CREDIT_RECEIVE_URL)) == 1
