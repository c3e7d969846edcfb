"""What a request hears when the server stops under it, and a body the server cut for slowness.

The gevent worker (app/serving/gevent_worker.py) puts a stop signal in each request's environ and sets it
when a stop begins (tests/e2e/test_connections.py runs that under gunicorn). Here the signal is
already set: a blocking-mode wait answers after one look at the task, never waiting out its time.
"""
import threading

import responses

from app.serving import stopping
from app.serving.gevent_worker import BodyTooSlow
from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, generate_answer, queued_record

RID = "4722540945676"


def stopped() -> dict:
    signal = threading.Event()
    signal.set()
    return {stopping.KEY: signal}


def history_calls() -> int:
    return sum(1 for c in responses.calls if c.request.url.startswith(HISTORY_URL))


@responses.activate
def test_a_sync_wait_is_answered_at_once_with_its_task_and_state_when_the_server_stops(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))

    resp = client.post("/v1/videos/generations", json={"prompt": "a", "wait": True}, headers=auth("s"),
                       environ_overrides=stopped())

    err = resp.get_json()["error"]
    assert resp.status_code == 504 and err["code"] == "upstream_timeout"     # what a wait that ran out answers
    assert resp.headers["x-should-retry"] == "false"                          # the task exists: no resubmit
    assert err["task_id"] and err["task"]["task_id"] == err["task_id"] and err["task"]["status"] == "pending"
    assert "restarting" in err["message"]
    assert history_calls() == 1                                               # one look, no waiting
    assert client.get(f"/v1/videos/tasks/{err['task_id']}", headers=auth("s")).status_code == 200


@responses.activate
def test_a_bounded_wait_answers_202_with_the_running_task_when_the_server_stops(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))

    resp = client.post("/v1/videos/generations", json={"prompt": "a"}, headers={**auth("s"), "Prefer": "wait=5"},
                       environ_overrides=stopped())

    assert resp.status_code == 202 and resp.get_json()["status"] == "pending" and resp.get_json()["task_id"]
    assert history_calls() == 1


@responses.activate
def test_openais_waiting_create_answers_the_queued_video_when_the_server_stops(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID)}))

    resp = client.post("/v1/videos", json={"prompt": "a"}, headers={**auth("s"), "Prefer": "wait=5"},
                       environ_overrides=stopped())

    assert resp.status_code == 200 and resp.get_json()["status"] == "queued" and resp.get_json()["id"]
    assert history_calls() == 1


class TricklingBody:
    """A request body the worker gave up on: its next read raises as the worker's socket does."""

    def read(self, *args):
        raise BodyTooSlow()

    readline = readinto = read


def test_a_body_the_server_cut_for_slowness_is_408_request_timeout(client):
    resp = client.post("/v1/videos/generations", headers={**auth("s"), "Content-Type": "application/json",
                                                          "Content-Length": "1000"},
                       environ_overrides={"wsgi.input": TricklingBody(), "wsgi.input_terminated": True})
    err = resp.get_json()["error"]
    assert resp.status_code == 408 and err["code"] == "request_timeout"
    assert "too slowly" in err["message"]
