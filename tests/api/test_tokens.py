"""Token routes: liveness and credits, never echoing the secret."""
import pytest
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import envelope

ACCOUNT_URL = "http://jimeng.test/passport/account/info/v2"
CREDIT_URL = "http://jimeng.test/commerce/v1/benefits/user_credit"


@responses.activate
def test_live_session(client):
    responses.post(ACCOUNT_URL, json=envelope({"user_id": 42}))
    assert client.post("/token/check", json={"token": "sess"}).get_json() == {"live": True}


@responses.activate
def test_expired_session_is_not_live(client):
    responses.post(ACCOUNT_URL, json=envelope(None, ret="1015", errmsg="login expired"))
    assert client.post("/token/check", json={"token": "sess"}).get_json() == {"live": False}


def test_check_needs_a_token(client):
    resp = client.post("/token/check", json={})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "token"


@responses.activate
def test_points_sum_credits_and_show_expiring_ones(client):
    responses.post(CREDIT_URL, json=envelope({"credit": {"gift_credit": 10, "purchase_credit": 5, "vip_credit": 1},
                                              "expiring_credits": [{"credit_amount": 50, "expire_time": 1}]}))
    body = client.post("/token/points", headers=auth("hk-abcdefgh12345678")).get_json()
    assert body == [{"token": "hk:…5678", "points": {"giftCredit": 10, "purchaseCredit": 5, "vipCredit": 1,
                                                       "totalCredit": 56, "expiringCredit": 50}}]
    assert "abcdefgh" not in str(body)


LONG = "a" * 100_000


@responses.activate
def test_a_token_far_too_long_is_refused_before_jimeng_on_the_check_route(client):
    resp = client.post("/token/check", json={"token": LONG})

    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["param"] == "token", error
    assert LONG[:100] not in resp.get_data(as_text=True)
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.parametrize("method, path", [("POST", "/v1/videos/generations"), ("POST", "/token/points"),
                                          ("GET", "/v1/videos/tasks/1234567890"), ("GET", "/v1/videos")])
@pytest.mark.parametrize("token", [LONG, f"us-{LONG}", f"http://{LONG}@sess", "http://proxy.example:8080@" + "b" * 300])
def test_a_token_far_too_long_is_refused_before_jimeng_in_the_authorization_header(client, method, path, token):
    resp = client.open(path, method=method, json={"prompt": "a cat"}, headers=auth(token))

    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["param"] == "Authorization", error
    assert "longer than" in error["message"]
    assert len(responses.calls) == 0


@responses.activate
def test_a_real_session_id_behind_a_long_proxy_prefix_still_fits(client):
    proxy = "socks5://user-with-a-long-name:" + "p" * 120 + "@proxy.example.com:1080"
    responses.post(ACCOUNT_URL, json=envelope({"user_id": 42}))

    resp = client.post("/token/check", json={"token": f"{proxy}@us-{'0123456789abcdef' * 2}"})

    # Refused only because this service allows no proxies (TOKEN_PROXY_ALLOWLIST), not for its length.
    assert resp.get_json()["error"]["code"] == "proxy_not_allowed", resp.get_json()
