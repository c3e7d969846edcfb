"""What a client of our API sees for the 2026 refusals: status, code, headers, Jimeng's own words."""
import pytest
import responses

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, failed_record


def refuse(ret, errmsg, **fields):
    responses.post(GENERATE_URL, json={"ret": ret, "errmsg": errmsg, "systime": "1", "logid": "L",
                                       "data": None, **fields})


@responses.activate
def test_a_parallel_limit_is_429_with_retry_after(client):
    refuse("1310", "peak hours", fail_code="exceed_model_parallel_max")
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "concurrency_limit"
    assert int(resp.headers["Retry-After"]) > 0
    assert "task_id" not in resp.get_json()["error"]      # refused: nothing was created


@responses.activate
def test_a_risk_refusal_is_403_with_jimengs_message(client):
    refuse("-6", "shark not pass reject",
           fail_starling_message="Couldn't generate due to unusual activity in your account. Try again later.")
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("us-sess"))
    error = resp.get_json()["error"]
    assert resp.status_code == 403 and error["code"] == "risk_control" and error["upstream_code"] == "-6"
    assert "unusual activity in your account" in error["message"]
    assert len([c for c in responses.calls if c.request.url.startswith(GENERATE_URL)]) == 1


@responses.activate
def test_credits_refused_under_data_is_402(client):
    responses.post(GENERATE_URL, json={"ret": "1006", "errmsg": "Not enough credits left", "data": {
        "fail_code": "1006", "fail_starling_message": "Not enough credits left or no relevant benefits"}})
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 402 and resp.get_json()["error"]["code"] == "insufficient_credits"


@pytest.mark.parametrize("fail_code, error_code", [
    ("4011", "content_rejected"), ("2043", "generation_failed"), ("2039", "insufficient_credits"),
    ("4013", "risk_control"), ("2038", "content_rejected"),
])
@responses.activate
def test_a_failed_task_names_the_reason_and_keeps_the_raw_code(app, client, clock, fail_code, error_code):
    task_id = task_id_for(app, "sess", "77", submitted_at=clock() - 60)
    record = failed_record("77", fail_code)
    record["fail_starling_message"] = "Jimeng's own words"
    responses.post(HISTORY_URL, json=envelope({"77": record}))
    body = client.get(f"/v1/videos/tasks/{task_id}", headers=auth("sess")).get_json()
    assert body["status"] == "failed" and body["error_code"] == error_code
    assert body["upstream_code"] == fail_code and "Jimeng's own words" in body["error"]
