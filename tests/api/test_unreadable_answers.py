"""Issue 21, section 2: an answer of Jimeng's that cannot be read is a 502 `upstream_error`, never a
fact about the caller: no 401 for an upload grant without credentials, no empty video list for a
list answer without records. (The balance and every call type: test_credits.py, tests/faults/.)"""
from __future__ import annotations

import base64

import pytest
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import BASE, envelope
from tests.media_samples import make_png

PNG_URI = "data:image/png;base64," + base64.b64encode(make_png(8, 8)).decode()
NULL_DATA = {"ret": "0", "errmsg": "success", "data": None}


def upstream_error(resp) -> None:
    body = resp.get_json()
    assert resp.status_code == 502 and body["error"]["code"] == "upstream_error", body


@responses.activate
@pytest.mark.parametrize("answer", [NULL_DATA, envelope({}), envelope({"access_key_id": ""}),
                                    envelope({"access_key_id": "AK", "secret_access_key": {"x": 1}})],
                         ids=["null", "empty", "blank-key", "odd-secret"])
def test_an_upload_grant_without_credentials_is_an_upstream_error_not_token_invalid(client, answer):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=answer)

    resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                       headers=auth("sess"))

    upstream_error(resp)
    assert "token" not in resp.get_json()["error"]["code"]


@responses.activate
def test_a_logged_out_session_on_the_upload_grant_is_still_token_invalid(client):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=envelope(None, ret="1015", errmsg="login expired"))

    resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "file_paths": [PNG_URI]},
                       headers=auth("sess"))

    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "token_invalid"


@responses.activate
@pytest.mark.parametrize("answer", [NULL_DATA, envelope({}), envelope({"records_list": "none"})],
                         ids=["null", "empty", "not-a-list"])
def test_a_history_list_without_records_is_an_upstream_error_not_an_empty_account(client, answer):
    responses.post(f"{BASE}/mweb/v1/get_history", json=answer)

    upstream_error(client.get("/v1/videos", headers=auth("sess")))


@responses.activate
@pytest.mark.parametrize("answer", [NULL_DATA, envelope({}), envelope({"receive_quota": "lots"})],
                         ids=["null", "empty", "unreadable"])
def test_a_daily_claim_without_a_readable_amount_is_an_upstream_error_not_zero(client, answer):
    responses.post(f"{BASE}/commerce/v1/benefits/credit_receive", json=answer)

    item = client.post("/token/receive", headers=auth("sess")).get_json()[0]

    assert item["error"]["code"] == "upstream_error" and "received" not in item, item


@responses.activate
def test_a_null_payload_on_a_task_query_is_an_upstream_error_not_a_missing_task(app, client):
    responses.post(f"{BASE}/mweb/v1/get_history_by_ids", json=NULL_DATA)

    upstream_error(client.get("/v1/videos/tasks/4722540945676", headers=auth("sess")))
