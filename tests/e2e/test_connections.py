"""Connections and stopping under gunicorn, the README's default configuration, no nginx in front.

Idle clients cannot lock others out; slow ones are cut on short timers; SIGTERM to the master
stops it in seconds, and what is in flight is answered: a poll, a blocking-mode wait (at once,
with its task) and a submit (in full). The times asserted are the issue's targets, with room for
a busy machine only where the issue sets none.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time

import psutil
import pytest
import requests

from sandbox.stack import HOST, Stack, running_stack
from tests.e2e.conftest import FAST, TIMEOUT, session_for

pytestmark = pytest.mark.e2e

PING = b"GET /ping HTTP/1.1\r\nHost: jimeng\r\n\r\n"
HISTORY = "/mweb/v1/get_history_by_ids"
GENERATE = "/mweb/v1/aigc_draft/generate"


def port_of(stack: Stack) -> int:
    return int(stack.service_url.rsplit(":", 1)[1])


def idle_keep_alive(port: int, count: int, deadline_s: float = 20.0) -> list[socket.socket]:
    """`count` connections, each sent one request and left open; those answered are read out.
    Returns them all (a connection never answered is one the server could not take)."""
    conns = []
    for _ in range(count):
        conn = socket.create_connection((HOST, port), timeout=5)
        conn.sendall(PING)
        conns.append(conn)
    waiting = set(conns)
    deadline = time.monotonic() + deadline_s
    while waiting and time.monotonic() < deadline:
        ready, _, _ = select.select(list(waiting)[:1000], [], [], 0.2)
        for conn in ready:
            if b"\r\n\r\n" in conn.recv(65536):      # /ping's whole answer fits one read
                waiting.discard(conn)
    return conns


def closed_by_server(conn: socket.socket, within: float) -> float | None:
    """Seconds until the server closed `conn` (EOF or reset), or None if it stayed open `within`."""
    started = time.monotonic()
    conn.settimeout(within)
    try:
        while conn.recv(65536):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def master_exit_seconds(stack: Stack, limit: float) -> float:
    """Send SIGTERM to the gunicorn master; seconds until it has exited (at most `limit`)."""
    master = psutil.Process(stack.service_pid)
    started = time.monotonic()
    os.kill(stack.service_pid, signal.SIGTERM)
    while time.monotonic() - started < limit:
        try:
            if master.status() == psutil.STATUS_ZOMBIE:     # exited; running_stack reaps it
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return time.monotonic() - started


def in_thread(call) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            out["resp"] = call()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_for_call(stack: Stack, path: str, count: int = 1) -> None:
    """Until the sandbox has seen `count` calls of `path` (the call is in flight upstream)."""
    deadline = time.monotonic() + 30
    while requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"].get(path, 0) < count:
        assert time.monotonic() < deadline, f"{path} never reached the sandbox"
        time.sleep(0.05)


# -- room for new clients -----------------------------------------------------------------------

def test_idle_keep_alive_connections_do_not_lock_new_clients_out():
    # A smaller cap than the default 1000 to keep the test light; the same arithmetic: more idle
    # connections than all the workers' slots together.
    with running_stack(workers=None, service_env={"GUNICORN_WORKER_CONNECTIONS": "40"}) as stack:
        workers = len(psutil.Process(stack.service_pid).children())
        idle = idle_keep_alive(port_of(stack), 40 * workers + 60)
        try:
            answered = []
            for _ in range(10):
                started = time.monotonic()
                resp = requests.get(f"{stack.service_url}/ping", timeout=(3, 3))
                answered.append((resp.status_code, time.monotonic() - started))
        finally:
            for conn in idle:
                conn.close()
    assert [status for status, _ in answered] == [200] * 10
    assert max(took for _, took in answered) < 3


# -- short timers -------------------------------------------------------------------------------

TIMERS = {"GUNICORN_KEEPALIVE": "1", "GUNICORN_HEADER_TIMEOUT": "1", "GUNICORN_BODY_TIMEOUT": "1",
          "GUNICORN_BODY_MIN_RATE": "1000"}


@pytest.fixture(scope="module")
def short_timers():
    with running_stack(workers=None, service_env=TIMERS) as stack:
        yield stack


def test_an_idle_keep_alive_connection_is_closed_after_keepalive(short_timers):
    (conn,) = idle_keep_alive(port_of(short_timers), 1)
    with conn:
        took = closed_by_server(conn, within=10)
    assert took is not None and took < 4


def test_a_request_head_sent_a_byte_at_a_time_is_cut(short_timers):
    with socket.create_connection((HOST, port_of(short_timers)), timeout=5) as conn:
        started = time.monotonic()
        try:
            for byte in PING[:-2] + b"X-Slow: " + b"x" * 100:
                conn.send(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass
        took = closed_by_server(conn, within=10)
    assert took is not None and time.monotonic() - started < 5


def test_a_body_sent_a_byte_at_a_time_is_answered_408_and_cut(short_timers):
    head = (b"POST /v1/videos/generations HTTP/1.1\r\nHost: jimeng\r\nAuthorization: Bearer trickle\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
    with socket.create_connection((HOST, port_of(short_timers)), timeout=10) as conn:
        conn.sendall(head)
        started = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            try:
                conn.send(b" ")
                ready, _, _ = select.select([conn], [], [], 0.2)
                if ready:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    answer += chunk
            except OSError:
                break
            assert time.monotonic() - started < 10, "the trickling body was never cut"
        took = time.monotonic() - started
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer[:300]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"
    assert took < 5


def test_a_body_sent_steadily_above_the_minimum_rate_is_read_whole(short_timers):
    body = json.dumps({"task_ids": ["not-a-task"]}).encode() + b" " * 4000   # 4 KB over 2 s: 2 KB/s
    head = (f"POST /v1/videos/tasks/batch HTTP/1.1\r\nHost: jimeng\r\nAuthorization: Bearer steady\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((HOST, port_of(short_timers)), timeout=10) as conn:
        conn.sendall(head)
        for i in range(0, len(body), 200):
            conn.sendall(body[i:i + 200])
            time.sleep(0.1)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["data"][0]["status"] == "not_found"


# -- stopping -----------------------------------------------------------------------------------

def test_with_idle_connections_only_the_master_exits_within_5_s():
    with running_stack(workers=None) as stack:
        idle = idle_keep_alive(port_of(stack), 30)
        try:
            took = master_exit_seconds(stack, limit=60)
            assert all(closed_by_server(conn, within=1) is not None for conn in idle)
        finally:
            for conn in idle:
                conn.close()
    assert took < 5, f"the master took {took:.1f} s"


def test_a_poll_in_flight_is_answered_after_sigterm():
    with running_stack(workers=None) as stack:
        http = session_for("stop-poll-session")
        task = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"{FAST} poll"},
                         timeout=TIMEOUT).json()
        requests.post(f"{stack.sandbox_url}/_sandbox/faults", json={"path": HISTORY, "delay": 2}, timeout=TIMEOUT)
        requests.delete(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT)
        thread, out = in_thread(lambda: http.get(f"{stack.service_url}/v1/videos/tasks/{task['task_id']}",
                                                 timeout=TIMEOUT))
        wait_for_call(stack, HISTORY)

        master_exit_seconds(stack, limit=30)
        thread.join(30)

    assert "error" not in out, out.get("error")
    assert out["resp"].status_code == 200 and out["resp"].json()["task_id"] == task["task_id"]


def test_a_blocking_wait_is_answered_at_once_with_its_task_on_sigterm():
    with running_stack(workers=None) as stack:     # WAIT_POLL_SECONDS: 10 s between looks, WAIT_TIMEOUT 900
        http = session_for("stop-waiter-session")
        url = f"{stack.service_url}/v1/videos/generations"
        sync, sync_out = in_thread(lambda: http.post(url, json={"prompt": "[sandbox:queue=600] sync", "wait": True},
                                                     timeout=(5, 60)))
        bounded, bounded_out = in_thread(lambda: http.post(url, json={"prompt": "[sandbox:queue=600] bounded"},
                                                           headers={"Prefer": "wait=600"}, timeout=(5, 60)))
        wait_for_call(stack, HISTORY, count=2)          # both submitted, both waiting

        started = time.monotonic()
        took = master_exit_seconds(stack, limit=60)
        sync.join(10)
        bounded.join(10)
        answered = time.monotonic() - started
        records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]

    assert "error" not in sync_out and "error" not in bounded_out, (sync_out, bounded_out)
    resp = sync_out["resp"]
    error = resp.json()["error"]
    assert resp.status_code == 504 and error["code"] == "upstream_timeout", resp.text
    assert resp.headers["x-should-retry"] == "false"
    assert error["task_id"] and error["task"]["status"] == "pending"
    resp = bounded_out["resp"]
    assert resp.status_code == 202 and resp.json()["status"] == "pending" and resp.json()["task_id"], resp.text
    assert len(records) == 2                           # each wait's task exists: it was answered, not lost
    assert answered < 5 and took < 5, (answered, took)


def test_a_submit_in_flight_completes_after_sigterm():
    with running_stack(workers=None) as stack:
        http = session_for("stop-submit-session")
        requests.post(f"{stack.sandbox_url}/_sandbox/faults", json={"path": GENERATE, "delay": 3}, timeout=TIMEOUT)
        thread, out = in_thread(lambda: http.post(f"{stack.service_url}/v1/videos/generations",
                                                  json={"prompt": f"{FAST} in flight"}, timeout=(5, 60)))
        wait_for_call(stack, GENERATE)                  # Jimeng is generating it: the submit is paid for

        took = master_exit_seconds(stack, limit=60)
        thread.join(30)
        records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]

    assert "error" not in out, out.get("error")
    assert out["resp"].status_code == 200, out["resp"].text
    assert out["resp"].json()["task_id"] and len(records) == 1
    assert took > 2                                     # the master waited for it
