"""Webhooks: asked at submit, watched in batches per account, delivered signed to a real receiver.

Jimeng is mocked at the HTTP boundary; the receiver is a real server on loopback that verifies every
request with the `standardwebhooks` library. The engine's jobs run by hand (tests/webhook_jobs.py),
and time moves on the test's clock.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, LOCAL_ITEMS_URL, envelope, failed_record,
                                finished_record, generate_answer, local_item, local_items_answer, queued_record)
from tests.webhook_jobs import hook_app, jimeng, receiver, run_jobs, webhook_app  # noqa: F401  (fixtures)
from app.webhooks.engine import SWEEP_SLACK
from sandbox.receiver import running_receiver
from tests.slow_receivers import slow_receiver

SESSION = "webhook-session-0123456789"




def submit(client, receiver, record_id="4722540945676", path="/v1/videos/generations", **fields):
    body = {"prompt": "a lighthouse", "webhook_url": receiver.url, **fields}
    resp = client.post(path, json=body, headers=auth(SESSION))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def history_calls(rsps) -> list[dict]:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.url.startswith(HISTORY_URL)]


def test_a_completed_video_fires_one_signed_event_carrying_the_task_as_queried(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("111"))
    task_id = submit(client, receiver, "111")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"111": finished_record("111")}))
    jimeng.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    clock.advance(10)

    run_jobs(hook_app)

    events = receiver.events()
    assert [e["type"] for e in events] == ["video.completed"]
    event = events[0]
    assert event["object"] == "event" and event["id"] == receiver.received[0].headers["webhook-id"]
    queried = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()
    assert queried["webhook"] == {"host": "127.0.0.1", "status": "delivered", "attempts": 1, "last_status": 200}
    del queried["webhook"]
    assert event["data"] == queried and event["data"]["task_id"] == task_id
    run_jobs(hook_app, rounds=3)
    assert len(receiver.received) == 1        # exactly one event per task


def test_the_query_shows_a_pending_webhook_while_the_task_runs(hook_app, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("112"))
    task_id = submit(client, receiver, "112")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"112": queued_record("112")}))

    single = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()
    batch = client.post("/v1/videos/tasks/batch", json={"task_ids": [task_id]}, headers=auth(SESSION)).get_json()
    openai = client.get(f"/v1/videos/{task_id}", headers=auth(SESSION)).get_json()

    pending = {"host": "127.0.0.1", "status": "pending", "attempts": 0, "last_status": None}
    assert single["webhook"] == batch["data"][0]["webhook"] == openai["webhook"] == pending


def test_a_task_without_a_webhook_shows_none(hook_app, jimeng):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("113"))
    task_id = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth(SESSION)).get_json()["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"113": queued_record("113")}))
    assert "webhook" not in client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()


def test_a_failed_video_fires_video_failed_with_its_error(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("114"))
    submit(client, receiver, "114")
    jimeng.post(HISTORY_URL, json=envelope({"114": failed_record("114", "2038")}))
    clock.advance(10)

    run_jobs(hook_app)

    (event,) = receiver.events()
    assert event["type"] == "video.failed"
    assert event["data"]["status"] == "failed" and event["data"]["error_code"] == "content_rejected"


def test_a_running_task_is_polled_again_and_fires_once_it_ends(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("115"))
    submit(client, receiver, "115")
    running = jimeng.post(HISTORY_URL, json=envelope({"115": queued_record("115")}))
    clock.advance(10)
    run_jobs(hook_app)
    assert receiver.received == [] and running.call_count == 1

    jimeng.replace(responses.POST, HISTORY_URL, json=envelope({"115": failed_record("115")}))
    run_jobs(hook_app)
    assert receiver.received == []            # not due yet: Jimeng's pace, at most 10 s
    clock.advance(10)
    run_jobs(hook_app)
    assert [e["type"] for e in receiver.events()] == ["video.failed"]


def test_watching_100_tasks_of_one_account_costs_one_history_call_per_poll(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    ids = [str(5000 + i) for i in range(100)]
    for record_id in ids:
        jimeng.upsert(responses.POST, GENERATE_URL, json=generate_answer(record_id))
        submit(client, receiver, record_id)
    jimeng.post(HISTORY_URL, json=envelope({i: queued_record(i) for i in ids}))
    clock.advance(10)

    run_jobs(hook_app)
    clock.advance(10)
    run_jobs(hook_app)

    calls = history_calls(jimeng)
    assert len(calls) == 2 and sorted(calls[0]["history_ids"]) == sorted(ids)


def test_images_and_videos_of_one_account_share_its_poll(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("116"))
    submit(client, receiver, "116")
    jimeng.replace(responses.POST, GENERATE_URL, json=generate_answer("117"))
    submit(client, receiver, "117", path="/v1/images/generations", **{"async": True})
    jimeng.post(HISTORY_URL, json=envelope({"116": queued_record("116"), "117": queued_record("117")}))
    clock.advance(10)

    run_jobs(hook_app)

    (call,) = history_calls(jimeng)
    assert sorted(call["history_ids"]) == ["116", "117"] and "image_info" in call


def test_an_image_task_fires_image_completed(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("118"))
    task_id = submit(client, receiver, "118", path="/v1/images/generations", **{"async": True})["task_id"]
    record = queued_record("118", position=0, queue_status=3, status=50)
    record["item_list"] = [{"image": {"large_images": [{"image_url": "https://img.example/1.png",
                                                        "width": 1024, "height": 1024}]}}]
    record["total_image_count"] = record["finished_image_count"] = 1
    jimeng.post(HISTORY_URL, json=envelope({"118": record}))
    clock.advance(10)

    run_jobs(hook_app)

    (event,) = receiver.events()
    assert event["type"] == "image.completed" and event["data"]["task_id"] == task_id
    assert event["data"]["result"]["url"] == "https://img.example/1.png"


def test_openai_routes_get_openai_video_objects_with_the_same_id(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("119"))
    created = submit(client, receiver, "119", path="/v1/videos")
    jimeng.post(HISTORY_URL, json=envelope({"119": failed_record("119")}))
    clock.advance(10)

    run_jobs(hook_app)

    (event,) = receiver.events()
    retrieved = client.get(f"/v1/videos/{created['id']}", headers=auth(SESSION)).get_json()
    assert retrieved.pop("webhook")["status"] == "delivered"
    assert event["type"] == "video.failed" and event["data"] == retrieved
    assert event["data"]["object"] == "video" and event["data"]["id"] == created["id"]


def test_only_the_events_asked_for_are_sent(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("120"))
    task_id = submit(client, receiver, "120", webhook_events=["video.failed"])["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"120": finished_record("120")}))
    jimeng.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    clock.advance(10)

    run_jobs(hook_app, rounds=2)

    assert receiver.received == []
    assert "webhook" not in client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()


def test_multipart_takes_webhook_events_as_a_comma_separated_list(hook_app, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("121"))
    resp = client.post("/v1/videos/generations", headers=auth(SESSION), content_type="multipart/form-data",
                       data={"prompt": "x", "webhook_url": receiver.url,
                             "webhook_events": "video.completed, video.failed"})
    assert resp.status_code == 200, resp.get_json()


def test_a_receiver_failing_twice_gets_the_event_on_the_third_try_within_a_minute(hook_app, clock, jimeng,
                                                                                   receiver):
    receiver.default_script = [500, 500]
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("122"))
    task_id = submit(client, receiver, "122")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"122": failed_record("122")}))
    clock.advance(10)
    run_jobs(hook_app)
    first = clock.now
    state = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert state == {"host": "127.0.0.1", "status": "retrying", "attempts": 1, "last_status": 500}

    for _ in range(12):         # 5 s steps: each attempt is made once it is due, never before
        clock.advance(5)
        run_jobs(hook_app)
        if len(receiver.received) == 3:
            break

    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert clock.now - first <= 60
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1
    state = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert state == {"host": "127.0.0.1", "status": "delivered", "attempts": 3, "last_status": 200}


def test_410_gives_up_at_once(hook_app, clock, jimeng, receiver):
    receiver.default_script = [410]
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("123"))
    task_id = submit(client, receiver, "123")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"123": failed_record("123")}))
    clock.advance(10)
    run_jobs(hook_app)
    clock.advance(3600)
    run_jobs(hook_app, rounds=2)

    assert len(receiver.received) == 1
    state = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert state["status"] == "gave_up" and state["last_status"] == 410


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_but_retried(hook_app, clock, jimeng, receiver, status):
    receiver.default_script = [status]
    receiver.headers_to_send = {"Location": "http://127.0.0.1:9/elsewhere"}
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("124"))
    task_id = submit(client, receiver, "124")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"124": failed_record("124")}))
    clock.advance(10)
    run_jobs(hook_app)

    assert len(receiver.received) == 1
    state = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert state["status"] == "retrying" and state["last_status"] == status


def test_retry_after_is_honoured(hook_app, clock, jimeng, receiver):
    receiver.default_script = [503]
    receiver.headers_to_send = {"Retry-After": "120"}
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("125"))
    submit(client, receiver, "125")
    jimeng.post(HISTORY_URL, json=envelope({"125": failed_record("125")}))
    clock.advance(10)
    run_jobs(hook_app)
    clock.advance(100)
    run_jobs(hook_app)
    assert len(receiver.received) == 1       # 100 s < Retry-After
    clock.advance(21)
    run_jobs(hook_app)
    assert len(receiver.received) == 2


def test_a_task_past_its_timeout_fires_failed_with_timeout(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock, VIDEO_TASK_TIMEOUT=600)
    client = app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("126"))
    submit(client, receiver, "126")
    jimeng.post(HISTORY_URL, json=envelope({"126": queued_record("126")}))
    clock.advance(601)

    run_jobs(app)

    (event,) = receiver.events()
    assert event["type"] == "video.failed" and event["data"]["error_code"] == "timeout"


def test_an_unreadable_task_still_ends_at_its_timeout(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock, VIDEO_TASK_TIMEOUT=600)
    client = app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("127"))
    submit(client, receiver, "127")
    jimeng.post(HISTORY_URL, status=503)
    clock.advance(10)
    run_jobs(app)
    assert receiver.received == []
    clock.advance(600)

    run_jobs(app)

    (event,) = receiver.events()
    assert event["data"]["status"] == "failed" and event["data"]["error_code"] == "timeout"


def test_a_delivery_claimed_by_a_consumer_that_died_is_taken_up_by_the_sweep(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("128"))
    submit(client, receiver, "128")
    jimeng.post(HISTORY_URL, json=envelope({"128": failed_record("128")}))
    hooks = hook_app.extensions["webhooks"]
    clock.advance(10)
    hooks.poll(hooks.store.accounts_due(clock.now + 1)[0])          # the event is queued...
    (event_id,) = hooks.store.deliveries_due(clock.now, 10)
    assert hooks.store.claim_delivery(event_id, "dead-consumer", clock.now, 120) is not None   # ...and lost
    hooks.huey.flush()

    assert hooks.sweep() == 0                  # its claim still holds
    clock.advance(121)
    assert hooks.sweep() == 1
    run_jobs(hook_app)

    assert [e["type"] for e in receiver.events()] == ["video.failed"]


def test_a_poll_whose_message_was_lost_is_sent_again_by_the_sweep(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("129"))
    submit(client, receiver, "129")
    jimeng.post(HISTORY_URL, json=envelope({"129": failed_record("129")}))
    hooks = hook_app.extensions["webhooks"]
    hooks.huey.flush()                         # a consumer killed with the message in hand
    clock.advance(20)

    assert hooks.sweep() == 1
    run_jobs(hook_app)

    assert len(receiver.events()) == 1


def test_the_cancel_hook_fires_the_event_once(hook_app, jimeng, receiver):
    from app.services.tasks import TaskState

    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("130"))
    task_id = submit(client, receiver, "130")["task_id"]
    hooks = hook_app.extensions["webhooks"]
    cancelled = TaskState(task_id=task_id, status="failed", progress=0, error="cancelled; credits returned",
                          error_code="cancelled")
    secret = hook_app.config["SECRET_KEY"]

    assert hooks.task_ended(cancelled, secret) is True
    assert hooks.task_ended(cancelled, secret) is False
    run_jobs(hook_app, rounds=2)

    (event,) = receiver.events()
    assert event["type"] == "video.failed" and event["data"]["error_code"] == "cancelled"


def test_the_session_id_is_sealed_at_rest(hook_app, jimeng, receiver, tmp_path):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("131"))
    submit(client, receiver, "131")
    dump = "\n".join(sqlite3.connect(tmp_path / "webhooks.db").iterdump())
    assert "webhook_watch" in dump and SESSION not in dump


def test_an_idempotent_replay_watches_the_task_once(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("132"))
    first = submit(client, receiver, "132")
    hooks = hook_app.extensions["webhooks"]
    from app.webhooks.registration import Plan
    from app.webhooks.targets import Target
    from app.jimeng.regions import parse_token

    plan = Plan(Target(receiver.url, "127.0.0.1"), ("video.completed", "video.failed"), "video", "tasks", "")
    again = hooks.watch_submitted(plan, first["task_id"], [parse_token(SESSION)], hook_app.config["SECRET_KEY"])
    assert again is False


# -- refused before anything is sent ---------------------------------------------------------------

@pytest.mark.parametrize("fields,param", [
    ({"webhook_events": ["video.finished"]}, "webhook_events"),
    ({"webhook_events": ["image.completed"]}, "webhook_events"),
    ({"webhook_url": "https://10.1.2.3/hook"}, "webhook_url"),
    ({"webhook_url": "https://169.254.169.254/latest"}, "webhook_url"),
    ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
    ({"webhook_url": "https://user:pw@example.com/x"}, "webhook_url"),
    ({"webhook_url": "https://example.com:8443/x"}, "webhook_url"),
    ({"webhook_url": 7}, "webhook_url"),
])
def test_a_bad_webhook_is_a_400_and_nothing_is_submitted(hook_app, jimeng, receiver, fields, param):
    generate = jimeng.post(GENERATE_URL, json=generate_answer())
    resp = hook_app.test_client().post("/v1/videos/generations", headers=auth(SESSION),
                                       json={"prompt": "x", "webhook_url": receiver.url, **fields})
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"]["param"].startswith(param) and generate.call_count == 0


def test_loopback_targets_need_allow_loopback_webhooks(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock, ALLOW_LOOPBACK_WEBHOOKS=False)
    generate = jimeng.post(GENERATE_URL, json=generate_answer())
    resp = app.test_client().post("/v1/videos/generations", headers=auth(SESSION),
                                  json={"prompt": "x", "webhook_url": receiver.url})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "webhook_url"
    assert generate.call_count == 0


def test_production_takes_https_targets_only(tmp_path, clock, jimeng, receiver):
    from config import Config

    cfg = Config()
    cfg.SECRET_KEY = "production-secret-0123456789"
    cfg.JIMENG_UPSTREAM_URL, cfg.DATA_DIR, cfg.LIVE_CATALOGUE = "http://jimeng.test", str(tmp_path), False
    cfg.WEBHOOK_SECRET, cfg.ALLOW_LOOPBACK_WEBHOOKS, cfg.BROWSER_TRANSPORT = receiver.secret, True, "off"
    from app.factory import create_app
    app = create_app(cfg)
    resp = app.test_client().post("/v1/videos/generations", headers=auth(SESSION),
                                  json={"prompt": "x", "webhook_url": receiver.url})
    assert resp.status_code == 400 and "https" in resp.get_json()["error"]["message"]


def test_without_a_signing_secret_a_webhook_is_a_503_naming_the_setting(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock, WEBHOOK_SECRET="")
    generate = jimeng.post(GENERATE_URL, json=generate_answer())
    resp = app.test_client().post("/v1/videos/generations", headers=auth(SESSION),
                                  json={"prompt": "x", "webhook_url": receiver.url})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "webhook_unavailable"
    assert "WEBHOOK_SECRET" in resp.get_json()["error"]["message"] and generate.call_count == 0


def test_webhook_events_without_a_url_is_a_400(hook_app, jimeng):
    resp = hook_app.test_client().post("/v1/videos/generations", headers=auth(SESSION),
                                       json={"prompt": "x", "webhook_events": ["video.failed"]})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "webhook_events"


def test_a_malformed_webhook_secret_stops_the_start(tmp_path, clock):
    with pytest.raises(RuntimeError, match="WEBHOOK_SECRET"):
        webhook_app(tmp_path, clock, WEBHOOK_SECRET="whsec_not base64!")


def test_metrics_count_deliveries_and_show_the_queue(hook_app, clock, jimeng, receiver):
    receiver.default_script = [500]
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("133"))
    submit(client, receiver, "133")
    jimeng.post(HISTORY_URL, json=envelope({"133": failed_record("133")}))
    clock.advance(10)
    run_jobs(hook_app)

    text = client.get("/metrics").get_data(as_text=True)
    assert 'jimeng_api_webhook_attempts_total{event="video.failed",result="5xx"}' in text
    assert "jimeng_api_webhook_queue_depth 1.0" in text
    assert "jimeng_api_webhook_oldest_pending_seconds 0.0" in text


# -- company mode ---------------------------------------------------------------------------------

KEY_SECRET = "whsec_" + __import__("base64").b64encode(b"k" * 32).decode()


def test_an_api_key_default_webhook_is_signed_with_the_key_own_secret(tmp_path, clock, jimeng):
    with running_receiver(secret=KEY_SECRET) as key_receiver:
        jimeng.add_passthru(key_receiver.url.rsplit("/", 1)[0])
        keys, accounts = tmp_path / "keys.json", tmp_path / "accounts.json"
        keys.write_text(json.dumps({"keys": [{"name": "svc-a", "key": "key-a-0123456789abcdef",
                                              "webhook_url": key_receiver.url, "webhook_secret": KEY_SECRET}]}))
        accounts.write_text(json.dumps({"accounts": [{"label": "a1", "session_id": "sess-a1-secret"}]}))
        app = webhook_app(tmp_path, clock, API_KEYS_FILE=str(keys), JIMENG_ACCOUNTS_FILE=str(accounts))
        client = app.test_client()
        jimeng.post(GENERATE_URL, json=generate_answer("140"))
        resp = client.post("/v1/videos/generations", json={"prompt": "x"},
                           headers={"Authorization": "Bearer key-a-0123456789abcdef"})
        assert resp.status_code == 200, resp.get_json()
        jimeng.post(HISTORY_URL, json=envelope({"140": failed_record("140")}))
        clock.advance(10)

        run_jobs(app)

        (event,) = key_receiver.events()           # verified with the key's secret
        assert event["data"]["task_id"] == resp.get_json()["task_id"]
        polled = next(c for c in jimeng.calls if c.request.url.startswith(HISTORY_URL))
        assert "sessionid=sess-a1-secret" in polled.request.headers["Cookie"]
        dump = "\n".join(sqlite3.connect(tmp_path / "webhooks.db").iterdump())
        assert "sess-a1-secret" not in dump        # the pool holds the session; the watch names the account


def test_a_query_answers_even_when_the_webhook_store_is_out_of_reach(hook_app, jimeng, receiver, tmp_path):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("141"))
    task_id = submit(client, receiver, "141")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"141": queued_record("141")}))
    with sqlite3.connect(tmp_path / "webhooks.db") as db:
        db.execute("drop table webhook_status")

    resp = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION))

    assert resp.status_code == 200 and "webhook" not in resp.get_json()


# -- what a receiver answers never stops an attempt being recorded ----------------------------------

@pytest.mark.parametrize("status,state", [(200, "delivered"), (500, "retrying")])
def test_a_retry_after_of_superscript_two_is_ignored_and_the_attempt_recorded(hook_app, clock, jimeng, receiver,
                                                                              status, state):
    receiver.default_script = [status]
    receiver.headers_to_send = {"Retry-After": "\u00b2"}        # "²".isdigit() is true; float("²") fails
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("150"))
    task_id = submit(client, receiver, "150")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"150": failed_record("150")}))
    clock.advance(10)

    run_jobs(hook_app)

    webhook = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert webhook == {"host": "127.0.0.1", "status": state, "attempts": 1, "last_status": status}
    clock.advance(7)                      # the ordinary schedule (5 s +-20%), as if no Retry-After came
    run_jobs(hook_app)
    assert len(receiver.received) == (1 if status == 200 else 2)


def test_an_attempt_that_raises_counts_and_is_retried_on_schedule(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("151"))
    task_id = submit(client, receiver, "151")["task_id"]
    jimeng.post(HISTORY_URL, json=envelope({"151": failed_record("151")}))
    jimeng.post(receiver.url, body=UnicodeError("label too long"))     # what no handler of ours expects
    clock.advance(10)

    run_jobs(hook_app)

    webhook = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert webhook == {"host": "127.0.0.1", "status": "retrying", "attempts": 1, "last_status": None}
    jimeng.replace(responses.POST, receiver.url, status=204)
    clock.advance(7)
    run_jobs(hook_app)
    webhook = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]
    assert webhook == {"host": "127.0.0.1", "status": "delivered", "attempts": 2, "last_status": 204}


# -- a webhook given is one the service can keep as given ------------------------------------------

SUBMIT_ROUTES = [("/v1/videos/generations", {}), ("/v1/videos", {}), ("/v1/images/generations", {"async": True})]


def _route_events(path: str) -> str:
    return "image.completed" if "images" in path else "video.completed"


@pytest.mark.parametrize("path,extra", SUBMIT_ROUTES, ids=[p for p, _ in SUBMIT_ROUTES])
@pytest.mark.parametrize("tail", ["/x\r\nX-Injected: 1", "/x\x00", "/x\tY", "/\x1b[0m", "/x\x7f", "\n"])
def test_a_webhook_url_with_control_characters_is_a_400(hook_app, jimeng, path, extra, tail):
    generate = jimeng.post(GENERATE_URL, json=generate_answer())
    resp = hook_app.test_client().post(path, headers=auth(SESSION),
                                       json={"prompt": "x", "webhook_url": "http://127.0.0.1:9" + tail, **extra})
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"]["param"] == "webhook_url" and "control characters" in resp.get_json()["error"][
        "message"]
    assert generate.call_count == 0


@pytest.mark.parametrize("path,extra", SUBMIT_ROUTES, ids=[p for p, _ in SUBMIT_ROUTES])
@pytest.mark.parametrize("form,events", [(False, []), (False, None), (True, ",,,"), (True, " , "), (True, "[]"),
                                         (True, "null")], ids=["json-[]", "json-null", "form-,,,", "form-blank-items",
                                                               "form-[]", "form-null"])
def test_empty_webhook_events_are_a_400_naming_the_field_in_json_and_multipart(hook_app, jimeng, receiver, path,
                                                                              extra, form, events):
    generate = jimeng.post(GENERATE_URL, json=generate_answer())
    fields = {"prompt": "x", "webhook_url": receiver.url, "webhook_events": events, **extra}
    client = hook_app.test_client()
    if form:
        resp = client.post(path, headers=auth(SESSION), content_type="multipart/form-data",
                           data={k: str(v).lower() if isinstance(v, bool) else v for k, v in fields.items()})
    else:
        resp = client.post(path, headers=auth(SESSION), json=fields)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"]["param"] == "webhook_events" and generate.call_count == 0


@pytest.mark.parametrize("path,extra", SUBMIT_ROUTES, ids=[p for p, _ in SUBMIT_ROUTES])
@pytest.mark.parametrize("events", ["{event}", "{event}, ", '["{event}"]', ""], ids=["one", "list", "json", "empty"])
def test_multipart_webhook_events_read_alike_on_every_route(hook_app, jimeng, receiver, path, extra, events):
    jimeng.post(GENERATE_URL, json=generate_answer())
    data = {"prompt": "x", "webhook_url": receiver.url, "webhook_events": events.format(event=_route_events(path)),
            **{k: str(v).lower() for k, v in extra.items()}}
    resp = hook_app.test_client().post(path, headers=auth(SESSION), content_type="multipart/form-data", data=data)
    assert resp.status_code == 200, resp.get_json()       # an empty form field: not given, the default events


# -- slow receivers hold an attempt no longer than its deadline, and only their share of threads -----

def _end_tasks(app, jimeng, clock, url: str, record_ids: list[str]) -> tuple[list[str], list[str]]:
    """Submit a task per record id with `url` as its webhook, let them fail, and run the poll that fires
    their events (not the deliveries): (their task ids, the event ids it queued)."""
    client, hooks = app.test_client(), app.extensions["webhooks"]
    before = set(hooks.store.deliveries_due(clock.now + 1, 1000))
    task_ids = []
    for record_id in record_ids:
        jimeng.upsert(responses.POST, GENERATE_URL, json=generate_answer(record_id))
        task_ids.append(submit(client, type("Url", (), {"url": url}), record_id)["task_id"])
    jimeng.upsert(responses.POST, HISTORY_URL, json=envelope({r: failed_record(r) for r in record_ids}))
    clock.advance(10)
    hooks.poll(hooks.store.accounts_due(clock.now + 1)[0])
    return task_ids, sorted(set(hooks.store.deliveries_due(clock.now + 1, 1000)) - before)


def webhook_of(app, task_id: str) -> dict:
    return app.test_client().get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()["webhook"]


def _in_thread(call) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def test_a_receiver_trickling_its_answer_holds_an_attempt_only_webhook_timeout(tmp_path, clock, jimeng):
    app = webhook_app(tmp_path, clock, WEBHOOK_TIMEOUT=1.0)
    with slow_receiver("trickling") as slow:          # one header byte every 0.2 s, for ever
        jimeng.add_passthru(slow.url.rsplit("/", 1)[0])
        (task_id,), (event_id,) = _end_tasks(app, jimeng, clock, slow.url, ["160"])
        started = time.monotonic()

        attempt = _in_thread(lambda: app.extensions["webhooks"].deliver(event_id))
        attempt.join(10)

        took = time.monotonic() - started
        assert not attempt.is_alive() and took < 3, f"the attempt took {took:.1f} s (WEBHOOK_TIMEOUT 1 s)"
    assert webhook_of(app, task_id) == {"host": "127.0.0.1", "status": "retrying", "attempts": 1,
                                        "last_status": None}
    metrics_text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'jimeng_api_webhook_attempts_total{event="video.failed",result="timeout"}' in metrics_text


def test_an_attempt_in_flight_keeps_its_claim_so_the_sweep_never_sends_it_twice(tmp_path, clock, jimeng):
    app = webhook_app(tmp_path, clock, WEBHOOK_TIMEOUT=10.0, WEBHOOK_LEASE_SECONDS=5.0)   # a lease below the deadline
    hooks = app.extensions["webhooks"]
    with slow_receiver("trickling") as slow:
        jimeng.add_passthru(slow.url.rsplit("/", 1)[0])
        _, (event_id,) = _end_tasks(app, jimeng, clock, slow.url, ["161"])
        attempt = _in_thread(lambda: hooks.deliver(event_id))
        slow.wait_open(1)

        clock.advance(5 + SWEEP_SLACK + 1)            # past WEBHOOK_LEASE_SECONDS, within the attempt's deadline
        resent = hooks.sweep()

        assert resent == 0 and len(slow.ids) == 1
        hooks.stopping()
        attempt.join(5)


def test_a_slow_host_takes_only_its_share_of_threads_and_other_hosts_go_on(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock, WEBHOOK_TIMEOUT=10.0)       # 8 consumer threads: 2 per host
    hooks = app.extensions["webhooks"]
    with slow_receiver("holding", host="127.0.0.2") as slow:
        jimeng.add_passthru(slow.url.rsplit("/", 1)[0])
        held_tasks, held_events = _end_tasks(app, jimeng, clock, slow.url, ["170", "171", "172"])
        (other_task,), (other_event,) = _end_tasks(app, jimeng, clock, receiver.url, ["173"])
        attempts = [_in_thread(lambda e=e: hooks.deliver(e)) for e in held_events]
        slow.wait_open(2)
        for thread in attempts:
            thread.join(0.5)

        hooks.deliver(other_event)                    # another host's event: at once, on a thread of its own

        assert [t.is_alive() for t in attempts].count(True) == 2 and len(slow.ids) == 2
        assert webhook_of(app, other_task)["status"] == "delivered"
        put_back = [webhook_of(app, t) for t in held_tasks]
        assert [(w["status"], w["attempts"]) for w in put_back] == [("pending", 0)] * 3
        slow.release.set()
        for thread in attempts:
            thread.join(5)
        clock.advance(3)                              # the one put back is due again
        run_jobs(app)
        assert len(slow.ids) == 3
    assert [webhook_of(app, t)["status"] for t in held_tasks] == ["delivered"] * 3


def test_a_stop_cuts_an_attempt_in_flight_which_the_next_consumer_sends_again(tmp_path, clock, jimeng):
    app = webhook_app(tmp_path, clock, WEBHOOK_TIMEOUT=30.0)
    hooks = app.extensions["webhooks"]
    with slow_receiver("trickling") as slow:
        slow.answer_after = 1                          # the second request is answered 200 at once
        jimeng.add_passthru(slow.url.rsplit("/", 1)[0])
        (task_id,), (event_id,) = _end_tasks(app, jimeng, clock, slow.url, ["180"])
        attempt = _in_thread(lambda: hooks.deliver(event_id))
        slow.wait_open(1)
        started = time.monotonic()

        hooks.stopping()
        attempt.join(5)

        assert not attempt.is_alive() and time.monotonic() - started < 1
        assert webhook_of(app, task_id) == {"host": "127.0.0.1", "status": "pending", "attempts": 0,
                                            "last_status": None}     # cut: not an attempt, and not lost
        restarted = webhook_app(tmp_path, clock)
        run_jobs(restarted)
        assert len(slow.ids) == 2 and len(set(slow.ids)) == 1          # sent again, with the same webhook-id
    assert webhook_of(restarted, task_id)["status"] == "delivered"


def test_a_lease_shorter_than_two_webhook_timeouts_is_a_configuration_problem():
    from config import load_config

    cfg = load_config("testing")
    cfg.WEBHOOK_TIMEOUT, cfg.WEBHOOK_LEASE_SECONDS = 10.0, 15.0
    assert any("WEBHOOK_LEASE_SECONDS" in p for p in cfg.validate())
    cfg.WEBHOOK_LEASE_SECONDS = 20.0
    assert not any("WEBHOOK_LEASE_SECONDS" in p for p in cfg.validate())


# -- the webhook is part of what an Idempotency-Key's repeat must match --------------------------------

def keyed_submit(client, **fields):
    return client.post("/v1/videos/generations", json={"prompt": "a lighthouse", **fields},
                       headers={**auth(SESSION), "Idempotency-Key": "hooked-1"})


@pytest.mark.parametrize("changed", [
    {"webhook_url": "http://127.0.0.1:9/elsewhere"},
    {"webhook_events": ["video.failed"]},
    {"webhook_url": None},
], ids=["another-url", "other-events", "no-webhook"])
def test_the_same_key_with_another_webhook_is_409_naming_the_first_task(hook_app, jimeng, receiver, changed):
    """Before Jimeng lists the task (the marker answers) and after (its stored tag answers)."""
    client = hook_app.test_client()
    listed: dict = {}

    def history(request):
        asked = json.loads(request.body).get("submit_ids", [])
        return 200, {}, json.dumps(envelope({s: listed[s] for s in asked if s in listed}))

    jimeng.add_callback(responses.POST, HISTORY_URL, callback=history)
    generate = jimeng.post(GENERATE_URL, json=generate_answer("150"))
    first = keyed_submit(client, webhook_url=receiver.url)
    assert first.status_code == 200, first.get_json()
    fields = {"webhook_url": receiver.url, **changed}
    fields = {k: v for k, v in fields.items() if v is not None}

    unlisted = keyed_submit(client, **fields)
    sent = json.loads(generate.calls[0].request.body)
    record = queued_record("150")
    record.update(submit_id=sent["submit_id"], metrics_extra=sent["metrics_extra"], draft_content=sent["draft_content"])
    listed[sent["submit_id"]] = record
    same = keyed_submit(client, webhook_url=receiver.url)
    once_listed = keyed_submit(client, **fields)

    for resp in (unlisted, once_listed):
        err = resp.get_json()["error"]
        assert resp.status_code == 409 and err["code"] == "idempotency_conflict", err
        assert err["task_id"] == first.get_json()["task_id"]
    assert same.status_code == 200 and same.get_json()["task_id"] == first.get_json()["task_id"]
    assert generate.call_count == 1


# -- a generate whose answer was lost: the task may exist, and its webhook is kept ---------------------

PENDING = {"host": "127.0.0.1", "status": "pending", "attempts": 0, "last_status": None}


@pytest.mark.parametrize("path", ["/v1/videos/generations", "/v1/videos"])
def test_a_lost_generate_answer_still_watches_the_task_and_says_so(hook_app, clock, jimeng, receiver, path):
    """Jimeng made the task but its answer was lost: the error names the task, and its webhook fires
    when that task ends, as after a 200."""
    client = hook_app.test_client()
    generate = jimeng.post(GENERATE_URL, status=502)
    resp = client.post(path, json={"prompt": "a lighthouse", "webhook_url": receiver.url}, headers=auth(SESSION))
    err = resp.get_json()["error"]
    assert resp.status_code == 503 and err["task_id"] and resp.headers["x-should-retry"] == "false", err
    assert err["webhook"] == PENDING and "webhook" in err["message"]

    submit_id = json.loads(generate.calls[0].request.body)["submit_id"]
    record = finished_record("160")
    record["submit_id"] = submit_id
    jimeng.post(HISTORY_URL, json=envelope({submit_id: record}))
    jimeng.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
    clock.advance(10)
    run_jobs(hook_app)

    (event,) = receiver.events()
    assert event["type"] == "video.completed"
    assert event["data"].get("task_id", event["data"].get("id")) == err["task_id"]


def test_a_refusal_that_created_nothing_watches_nothing(hook_app, clock, jimeng, receiver):
    client = hook_app.test_client()
    jimeng.post(GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    resp = client.post("/v1/videos/generations", json={"prompt": "a lighthouse", "webhook_url": receiver.url},
                       headers=auth(SESSION))
    assert resp.status_code == 429 and "webhook" not in resp.get_json()["error"]
    assert hook_app.extensions["webhooks"].store.backlog()[0] == 0


class LostThenListed:
    """A submit with a webhook whose generate answer is lost (503, the task named by its submit id);
    Jimeng then lists the task under both its ids with `record`, and the same request is sent again
    with its key."""

    def __init__(self, client, jimeng, receiver, key: str) -> None:
        self.client, self.listed = client, {}
        jimeng.add_callback(responses.POST, HISTORY_URL, callback=self._history)
        jimeng.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item()))
        self.generate = jimeng.post(GENERATE_URL, status=502)
        self.ask = dict(json={"prompt": "a lighthouse", "webhook_url": receiver.url},
                        headers={**auth(SESSION), "Idempotency-Key": key})

    def _history(self, request):
        asked = json.loads(request.body)
        ids = asked.get("submit_ids") or asked.get("history_ids") or []
        return 200, {}, json.dumps(envelope({i: self.listed[i] for i in ids if i in self.listed}))

    def submit(self):
        return self.client.post("/v1/videos/generations", **self.ask)

    def list(self, record: dict) -> None:
        sent = json.loads(self.generate.calls[0].request.body)
        record.update(submit_id=sent["submit_id"], metrics_extra=sent["metrics_extra"],
                      draft_content=sent["draft_content"])
        self.listed[sent["submit_id"]] = self.listed[record["history_record_id"]] = record


def test_a_lost_answer_sent_again_with_its_key_once_listed_fires_one_event(hook_app, clock, jimeng, receiver):
    """The repeat is answered with the task's history id, the lost answer named it by its submit id:
    one Jimeng task, watched once, one event."""
    story = LostThenListed(hook_app.test_client(), jimeng, receiver, "lost-then-listed")
    lost = story.submit()
    assert lost.status_code == 503 and lost.get_json()["error"]["webhook"] == PENDING
    story.list(finished_record("181"))

    again = story.submit()
    clock.advance(10)
    run_jobs(hook_app, rounds=3)

    assert again.status_code == 200 and story.generate.call_count == 1, again.get_json()
    events = receiver.events()
    assert [e["type"] for e in events] == ["video.completed"], events


def test_after_a_lost_answer_both_ids_of_the_task_show_its_webhook_and_the_event_names_the_first(
        hook_app, clock, jimeng, receiver):
    """The 503 named the task by its submit id; the repeat with its key answers the history id. The
    webhook registered once shows on a query of either id, and its event carries the id of the answer
    that registered it (the 503's)."""
    client = hook_app.test_client()
    story = LostThenListed(client, jimeng, receiver, "lost-both-ids")
    by_submit_id = story.submit().get_json()["error"]["task_id"]
    story.list(queued_record("182"))
    again = story.submit()
    by_history_id = again.get_json()["task_id"]
    assert again.status_code == 200 and by_history_id != by_submit_id

    for task_id in (by_submit_id, by_history_id):
        state = client.get(f"/v1/videos/tasks/{task_id}", headers=auth(SESSION)).get_json()
        assert state["status"] == "pending" and state["webhook"] == PENDING, (task_id, state)

    story.list(finished_record("182"))
    clock.advance(10)
    run_jobs(hook_app, rounds=3)
    (event,) = receiver.events()
    assert event["type"] == "video.completed" and event["data"]["task_id"] == by_submit_id
