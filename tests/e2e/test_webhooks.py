"""Webhooks end to end: gunicorn (its master runs the engine's consumer) + the sandbox + a real
receiver on loopback that verifies every request with the `standardwebhooks` library.

Intervals are shortened through settings (the sandbox's tasks end in about 2 s); the waits below
are the real ones a client would see.
"""
from __future__ import annotations

import os
import signal
import time

import psutil
import pytest
import requests

from sandbox.stack import running_stack
from tests.e2e.conftest import FAST, TIMEOUT, session_for
from sandbox.receiver import running_receiver

pytestmark = pytest.mark.e2e

WEBHOOK_ENV = {"WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "ALLOW_LOOPBACK_WEBHOOKS": "1",
               "WEBHOOK_POLL_MIN_SECONDS": "0.5", "WEBHOOK_POLL_MAX_SECONDS": "1",
               "WEBHOOK_RETRY_BASE_SECONDS": "1", "WEBHOOK_LEASE_SECONDS": "5", "WEBHOOK_TIMEOUT": "2"}
EVENT_WAIT = 30.0


@pytest.fixture(scope="module")
def receiver():
    with running_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def hook_stack():
    with running_stack(service_env=WEBHOOK_ENV) as stack:
        yield stack


@pytest.fixture
def http(hook_stack):
    return session_for(f"e2e-hooks-{os.urandom(6).hex()}")


def submit(stack, http, prompt: str, url: str, path: str = "/v1/videos/generations") -> str:
    resp = http.post(f"{stack.service_url}{path}", json={"prompt": prompt, "webhook_url": url}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    return body.get("task_id") or body["id"]


def events_for(receiver, task_id: str) -> list[dict]:
    return [e for e in receiver.events() if e["data"].get("task_id", e["data"].get("id")) == task_id]


def wait_for_event(receiver, task_id: str, timeout: float = EVENT_WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = events_for(receiver, task_id)
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no event for the task within {timeout} s; the receiver got "
                         f"{[(r.answered, r.headers.get('webhook-id')) for r in receiver.received]}")


# Each ending a task can have, and what its event says (a cancelled one: below).
ENDINGS = [
    ("completed", FAST, "video.completed", "completed"),
    ("failed", FAST + " [sandbox:fail=2038]", "video.failed", "failed"),
]


@pytest.mark.parametrize("ending,directives,event_type,status", ENDINGS, ids=[e[0] for e in ENDINGS])
def test_each_ending_fires_exactly_one_verified_event(hook_stack, http, receiver, ending, directives, event_type,
                                                      status):
    task_id = submit(hook_stack, http, f"a lighthouse {directives}", receiver.url)

    event = wait_for_event(receiver, task_id)

    assert event["type"] == event_type and event["data"]["status"] == status
    time.sleep(3)                  # three more polls' worth: nothing else may arrive for this task
    assert len(events_for(receiver, task_id)) == 1
    assert all(r.event is not None for r in receiver.received)        # every request verified
    queried = http.get(f"{hook_stack.service_url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT).json()
    assert queried.pop("webhook")["status"] == "delivered"
    assert event["data"] == queried       # the task as a query answers it (a failed one's progress stays put)


def test_a_cancel_fires_one_video_failed_event_at_once(hook_stack, http, receiver):
    task_id = submit(hook_stack, http, "a lighthouse [sandbox:queue=60]", receiver.url)

    cancelled = http.post(f"{hook_stack.service_url}/v1/videos/tasks/{task_id}/cancel", timeout=TIMEOUT)
    asked = time.monotonic()
    event = wait_for_event(receiver, task_id)

    assert cancelled.status_code == 200, cancelled.text
    assert time.monotonic() - asked < 5        # fired by the cancel itself, not found by a later poll
    assert event["type"] == "video.failed" and event["data"]["error_code"] == "cancelled"
    time.sleep(3)                               # the watcher's polls see the cancelled record too
    assert len(events_for(receiver, task_id)) == 1


def test_a_submit_whose_answer_was_lost_still_gets_its_event(hook_stack, http, receiver):
    """The sandbox makes the task, then loses the generate's answer (HTTP 502): the error names the
    task and its webhook, and the event comes when the task ends."""
    fault = {"path": "/mweb/v1/aigc_draft/generate", "after": True, "status": 502}
    assert requests.post(f"{hook_stack.sandbox_url}/_sandbox/faults", json=fault, timeout=TIMEOUT).ok
    resp = http.post(f"{hook_stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                     json={"prompt": f"a lighthouse {FAST}", "webhook_url": receiver.url})
    err = resp.json()["error"]
    assert resp.status_code == 503 and err["task_id"] and err["webhook"]["status"] == "pending", resp.text

    event = wait_for_event(receiver, err["task_id"])

    assert event["type"] == "video.completed" and event["data"]["status"] == "completed"


def test_the_openai_route_gets_openai_video_objects(hook_stack, http, receiver):
    video_id = submit(hook_stack, http, f"a lighthouse {FAST}", receiver.url, path="/v1/videos")

    event = wait_for_event(receiver, video_id)

    assert event["type"] == "video.completed"
    assert event["data"]["object"] == "video" and event["data"]["status"] == "completed"


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_try_with_the_same_id(hook_stack, http):
    with running_receiver() as failing:
        failing.default_script = [500, 500]
        task_id = submit(hook_stack, http, f"a lighthouse {FAST}", failing.url)

        wait_for_event(failing, task_id)

        assert [r.answered for r in failing.received] == [500, 500, 200]
        assert len({r.headers["webhook-id"] for r in failing.received}) == 1
        webhook = http.get(f"{hook_stack.service_url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT).json()["webhook"]
        assert webhook == {"host": "127.0.0.1", "status": "delivered", "attempts": 3, "last_status": 200}


def _consumer_pids(master_pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(master_pid).children(recursive=True)
            if "app.webhooks.consumer" in " ".join(p.cmdline())]


def test_the_master_restarts_a_consumer_that_dies(hook_stack, http, receiver):
    (first,) = _consumer_pids(hook_stack.service_pid)
    os.kill(first, signal.SIGKILL)
    task_id = submit(hook_stack, http, f"a lighthouse {FAST}", receiver.url)

    wait_for_event(receiver, task_id)

    assert _consumer_pids(hook_stack.service_pid) not in ([], [first])


def test_the_service_killed_mid_task_and_restarted_still_delivers(tmp_path, receiver):
    env = {**WEBHOOK_ENV, "DATA_DIR": str(tmp_path)}
    http = session_for(f"e2e-hooks-{os.urandom(6).hex()}")
    with running_stack(service_env=env) as first:
        task_id = submit(first, http, "a lighthouse [sandbox:queue=3] [sandbox:generate=2]", receiver.url)
        os.killpg(first.service_pid, signal.SIGKILL)          # every process: master, workers, consumer
        time.sleep(6)                                           # the task ends while nothing runs
        assert events_for(receiver, task_id) == []
        with running_stack(service_env={**env, "JIMENG_UPSTREAM_URL": first.sandbox_url}):
            event = wait_for_event(receiver, task_id)
    assert event["type"] == "video.completed"
    assert len(events_for(receiver, task_id)) == 1


def test_two_instances_on_one_redis_deliver_each_event_once(redis_url, receiver):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = {**WEBHOOK_ENV, "REDIS_URL": redis_url}
    http = session_for(f"e2e-hooks-{os.urandom(6).hex()}")
    with running_stack(service_env=env) as one:
        with running_stack(service_env={**env, "JIMENG_UPSTREAM_URL": one.sandbox_url}) as two:
            tasks = [submit(stack, http, f"a lighthouse {FAST} #{i}", receiver.url)
                     for i, stack in enumerate([one, two] * 3)]
            for task_id in tasks:
                wait_for_event(receiver, task_id)
            time.sleep(3)
            webhook = requests.get(f"{two.service_url}/v1/videos/tasks/{tasks[0]}", timeout=TIMEOUT,
                                   headers=http.headers).json()["webhook"]
    assert all(len(events_for(receiver, t)) == 1 for t in tasks)
    assert webhook["status"] == "delivered"


def test_the_consumer_stops_with_a_master_killed_alone():
    with running_stack(service_env=WEBHOOK_ENV) as stack:
        deadline = time.monotonic() + 20
        while not _consumer_pids(stack.service_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        ours = [p for p in psutil.Process(stack.service_pid).children(recursive=True)
                if "app.webhooks." in " ".join(p.cmdline())]
        assert len(ours) == 2                          # the supervisor and its consumer
        os.kill(stack.service_pid, signal.SIGKILL)

        gone, alive = psutil.wait_procs(ours, timeout=20)

    assert alive == []


def test_a_stop_with_a_delivery_in_flight_takes_under_5_s_and_the_event_comes_after_the_restart(tmp_path):
    from tests.e2e.test_connections import master_exit_seconds
    from tests.slow_receivers import slow_receiver

    env = {**WEBHOOK_ENV, "DATA_DIR": str(tmp_path), "WEBHOOK_TIMEOUT": "30", "WEBHOOK_LEASE_SECONDS": "60"}
    http = session_for(f"e2e-hooks-{os.urandom(6).hex()}")
    with slow_receiver("trickling") as slow:          # one header byte every 0.2 s: the attempt never ends
        slow.answer_after = 1                          # until the service comes back: then 200 at once
        with running_stack(service_env=env, workers=None) as first:
            submit(first, http, f"a lighthouse {FAST}", slow.url)
            slow.wait_open(1, timeout=EVENT_WAIT)

            took = master_exit_seconds(first, limit=60)

        assert took < 5, f"the master took {took:.1f} s to stop with a delivery in flight"
        assert slow.ids and len(slow.ids) == 1
        with running_stack(service_env=env):         # the event's record is all it needs
            deadline = time.monotonic() + EVENT_WAIT
            while len(slow.ids) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
    assert len(slow.ids) == 2 and len(set(slow.ids)) == 1       # cut, then sent again: the same webhook-id


# -- a webhook store that cannot be written -----------------------------------------------------------

def test_a_locked_webhook_store_refuses_webhook_submits_at_once_and_stalls_no_other_request(tmp_path, receiver):
    """Another process holds webhooks.db's write lock (a backup, the sqlite3 shell): a submit asking
    for a webhook is a 503 before anything reaches Jimeng, within the check's second, and the worker's
    other requests (pings on their own connections) go on meanwhile: no wait happens inside SQLite."""
    import sqlite3
    import threading

    token = f"e2e-lock-{os.urandom(6).hex()}"
    http = session_for(token)
    with running_stack(service_env={**WEBHOOK_ENV, "DATA_DIR": str(tmp_path)}) as stack:
        submit(stack, http, "a lighthouse [sandbox:queue=600]", receiver.url)      # the store opened
        locker = sqlite3.connect(tmp_path / "webhooks.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        stalls, stop = [], threading.Event()

        def ping() -> None:
            with requests.Session() as own:
                while not stop.is_set():
                    started = time.monotonic()
                    own.get(f"{stack.service_url}/ping", timeout=TIMEOUT)
                    stalls.append(time.monotonic() - started)
                    time.sleep(0.02)

        pingers = [threading.Thread(target=ping) for _ in range(4)]
        for t in pingers:
            t.start()
        answers = []
        for _ in range(3):
            started = time.monotonic()
            resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                             json={"prompt": "a lighthouse [sandbox:queue=600]", "webhook_url": receiver.url})
            answers.append((resp.status_code, resp.json()["error"]["code"], time.monotonic() - started))
        stop.set()
        for t in pingers:
            t.join()
        locker.execute("ROLLBACK")
        after = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                          json={"prompt": "a lighthouse [sandbox:queue=600]", "webhook_url": receiver.url})
        from tests.e2e.test_idempotency_workers import tasks_at_the_sandbox
        tasks = tasks_at_the_sandbox(stack, token)

    assert [(status, code) for status, code, _ in answers] == [(503, "webhook_unavailable")] * 3, answers
    assert max(took for _, _, took in answers) < 3, answers
    assert stalls and max(stalls) < 0.5, f"a ping waited {max(stalls):.2f} s while the store was locked"
    assert after.status_code == 200 and tasks == 2            # the first and the one after: none refused was sent


def test_junk_store_files_at_start_are_named_by_healthz_and_refuse_only_what_needs_them(tmp_path, receiver):
    """A webhooks.db and a state.sqlite3 that are not databases: /healthz is 503 naming both; a
    webhook submit and a keyed submit are 503 before anything is sent; a plain submit goes through."""
    tmp_path.chmod(0o700)
    for name in ("webhooks.db", "state.sqlite3"):
        (tmp_path / name).write_bytes(b"not a database " * 1000)
        (tmp_path / name).chmod(0o600)
    token = f"e2e-junk-{os.urandom(6).hex()}"
    http = session_for(token)
    body = {"prompt": "a lighthouse [sandbox:queue=600]"}
    with running_stack(service_env={**WEBHOOK_ENV, "DATA_DIR": str(tmp_path)}) as stack:
        health = requests.get(f"{stack.service_url}/healthz", timeout=TIMEOUT)
        hooked = http.post(f"{stack.service_url}/v1/videos/generations", json={**body, "webhook_url": receiver.url},
                           timeout=TIMEOUT)
        keyed = http.post(f"{stack.service_url}/v1/videos/generations", json=body, timeout=TIMEOUT,
                          headers={"Idempotency-Key": "junk-1"})
        plain = http.post(f"{stack.service_url}/v1/videos/generations", json=body, timeout=TIMEOUT)
        from tests.e2e.test_idempotency_workers import tasks_at_the_sandbox
        tasks = tasks_at_the_sandbox(stack, token)

    report = health.json()
    assert health.status_code == 503 and report["status"] == "unavailable", report
    assert any("webhooks.db" in p for p in report["problems"]) and any("shared state" in p for p in report["problems"])
    assert (hooked.status_code, hooked.json()["error"]["code"]) == (503, "webhook_unavailable")
    assert (keyed.status_code, keyed.json()["error"]["code"]) == (503, "state_unavailable")
    assert plain.status_code == 200 and tasks == 1
