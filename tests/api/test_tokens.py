"""Token routes: liveness and credits, never echoing the secret."""
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
