"""A webhook store or shared state that cannot be used (a file another process holds locked, a file
that is not a database): a submit asking for a webhook is refused before anything is sent, never
answered 200 without its webhook, and /healthz names the store.

Jimeng is mocked at the HTTP boundary; the stores are real files under the test's DATA_DIR, locked
or spoiled from another connection as a backup job, the sqlite3 shell or a stuck process would."""
from __future__ import annotations

import sqlite3
import time

import pytest
import responses

from app.state import sqlite as sqlite_state
from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, generate_answer
from tests.webhook_jobs import jimeng, receiver, webhook_app  # noqa: F401  (fixtures)

SESSION = "store-session-0123456789"
JUNK = b"not a database " * 1000


@pytest.fixture(autouse=True)
def nothing_listed_yet(request):
    """Jimeng's history lists no task yet, for the tests that mock Jimeng."""
    if "jimeng" in request.fixturenames:
        request.getfixturevalue("jimeng").post(HISTORY_URL, json=envelope({}))


def submit(client, receiver=None, **headers):
    body = {"prompt": "a lighthouse", **({"webhook_url": receiver.url} if receiver else {})}
    return client.post("/v1/videos/generations", json=body, headers={**auth(SESSION), **headers})


def generates(rsps) -> int:
    return sum(1 for c in rsps.calls if c.request.url.startswith(GENERATE_URL))


def assert_refused(resp) -> None:
    """503 webhook_unavailable, naming no task: nothing was sent."""
    err = resp.get_json()["error"]
    assert resp.status_code == 503 and err["code"] == "webhook_unavailable", err
    assert "task_id" not in err and resp.headers["Retry-After"] and "webhook" in err["message"]


def test_a_webhook_submit_while_the_webhook_store_is_locked_is_refused_before_anything_is_sent(
        tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock)
    client = app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("170"))
    assert submit(client, receiver).status_code == 200
    locker = sqlite3.connect(tmp_path / "webhooks.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")                      # another process holds the write lock

    started = time.monotonic()
    refused = submit(client, receiver)
    waited = time.monotonic() - started
    sent_meanwhile = generates(jimeng) - 1
    plain = submit(client)                                 # a submit without a webhook needs no store
    locker.execute("ROLLBACK")
    after = submit(client, receiver)

    assert_refused(refused)
    assert sent_meanwhile == 0 and waited < 3
    assert plain.status_code == 200 and after.status_code == 200 and generates(jimeng) == 3
    task = client.get(f"/v1/videos/tasks/{after.get_json()['task_id']}", headers=auth(SESSION)).get_json()
    assert task["webhook"]["status"] == "pending"


def test_a_junk_webhook_store_at_start_refuses_webhook_submits_and_healthz_names_it(tmp_path, clock, jimeng,
                                                                                    receiver):
    (tmp_path / "webhooks.db").write_bytes(JUNK)
    client = webhook_app(tmp_path, clock).test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("171"))

    refused = submit(client, receiver)
    sent_meanwhile = generates(jimeng)
    plain = submit(client)
    health = client.get("/healthz")

    assert_refused(refused)
    assert sent_meanwhile == 0 and plain.status_code == 200
    body = health.get_json()
    assert health.status_code == 503 and body["status"] == "unavailable", body
    assert any("webhook" in p and "webhooks.db" in p for p in body["problems"]), body


def test_healthz_names_a_locked_webhook_store_and_is_ok_again_once_released(tmp_path, clock, jimeng, receiver):
    app = webhook_app(tmp_path, clock)
    client = app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("172"))
    assert client.get("/healthz").get_json()["problems"] == []
    locker = sqlite3.connect(tmp_path / "webhooks.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locked = client.get("/healthz")
    locker.execute("ROLLBACK")
    assert locked.status_code == 503 and any("webhook" in p for p in locked.get_json()["problems"])
    assert client.get("/healthz").status_code == 200


def test_a_junk_shared_state_at_start_makes_healthz_say_so(tmp_path, clock, jimeng):
    (tmp_path / sqlite_state.FILE_NAME).write_bytes(JUNK)
    client = webhook_app(tmp_path, clock).test_client()

    keyed = submit(client, **{"Idempotency-Key": "k-1"})
    health = client.get("/healthz")

    assert keyed.status_code == 503 and keyed.get_json()["error"]["code"] == "state_unavailable"
    body = health.get_json()
    assert health.status_code == 503 and body["status"] == "unavailable", body
    assert any("shared state" in p for p in body["problems"]), body


def test_healthz_names_a_locked_shared_state(tmp_path, clock, monkeypatch):
    client = webhook_app(tmp_path, clock).test_client()
    assert client.get("/healthz").status_code == 200
    monkeypatch.setattr(sqlite_state, "LOCK_WAIT_SECONDS", 0.05)
    locker = sqlite3.connect(tmp_path / sqlite_state.FILE_NAME, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    locked = client.get("/healthz")
    locker.execute("ROLLBACK")
    assert locked.status_code == 503 and any("shared state" in p for p in locked.get_json()["problems"])


def test_a_webhook_that_cannot_be_recorded_after_jimeng_took_the_task_is_an_error_naming_the_task(
        tmp_path, clock, jimeng, receiver, monkeypatch):
    """The store fails between the check and the record (after the generate): the task exists and is
    paid for, so the answer names it; it is never a 200 that silently lost its webhook."""
    app = webhook_app(tmp_path, clock)
    client = app.test_client()
    jimeng.post(GENERATE_URL, json=generate_answer("173"))
    store = app.extensions["webhooks"].store

    def fails(*args, **kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(store, "add_watch", fails)
    resp = submit(client, receiver)
    err = resp.get_json()["error"]
    assert resp.status_code == 503 and err["code"] == "webhook_unavailable" and err["task_id"], err
    assert resp.headers["x-should-retry"] == "false" and generates(jimeng) == 1


def test_a_cancel_while_the_webhook_store_is_unusable_leaves_the_event_to_the_next_poll(
        tmp_path, clock, jimeng, receiver, monkeypatch):
    """The cancel is done at Jimeng: its answer must not fail on the store. The watch stays, so the
    watcher's next poll (which sees the cancelled record) fires the one event."""
    from app.services.tasks import TaskState
    from tests.jimeng_fakes import failed_record
    from tests.webhook_jobs import run_jobs

    app = webhook_app(tmp_path, clock)
    jimeng.post(GENERATE_URL, json=generate_answer("174"))
    task_id = submit(app.test_client(), receiver).get_json()["task_id"]
    hooks = app.extensions["webhooks"]
    cancelled = TaskState(task_id=task_id, status="failed", progress=0, error="cancelled", error_code="cancelled")

    def broken(*args):
        raise sqlite3.DatabaseError("database disk image is malformed")

    with monkeypatch.context() as patched:
        patched.setattr(hooks.store, "watch", broken)
        assert hooks.task_ended(cancelled, app.config["SECRET_KEY"]) is False
    jimeng.replace(responses.POST, HISTORY_URL, json=envelope({"174": failed_record("174")}))
    clock.advance(10)
    run_jobs(app, rounds=2)
    assert [e["type"] for e in receiver.events()] == ["video.failed"]
