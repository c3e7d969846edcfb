"""Issue 8, hole 6, the parts only real processes show: gunicorn's debug dump and SIGTERM."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from sandbox.stack import HOST, ROOT, free_ports, running_stack

pytestmark = pytest.mark.e2e
SECRET = "hardening-secret-key-7f3e9a0b1c2d"


def gunicorn_master(port: int) -> int:
    """The pid of the gunicorn master bound to `port` (the oldest process with that --bind)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if b"gunicorn" in cmd and f"{HOST}:{port}".encode() in cmd:
                pids.append((int(stat[21]), int(entry.name)))
    assert pids, "gunicorn is not running"
    return min(pids)[1]


def test_gunicorns_debug_config_dump_does_not_print_the_secret_key(tmp_path):
    (port,) = free_ports(1)
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "APP_ENV": "production", "LOG_LEVEL": "DEBUG", "LOG_FORMAT": "text"}
    env.pop("SECRET_KEY", None)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app",
                                 "--bind", f"{HOST}:{port}", "--workers", "1", "--no-control-socket",
                                 "-e", f"SECRET_KEY={SECRET}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://{HOST}:{port}/ping", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    text = log.read_text(errors="replace")
    assert "Current configuration" in text          # the dump really happened
    assert SECRET not in text


def kept_alive(port: int) -> http.client.HTTPConnection:
    """A connection that has served one request and is kept alive."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    conn.request("GET", "/ping")
    first = conn.getresponse()
    first.read()
    assert first.status == 200 and first.getheader("Connection", "keep-alive").lower() != "close"
    return conn


def test_a_request_in_flight_on_a_keep_alive_connection_completes_after_sigterm():
    with running_stack() as stack:
        port = int(stack.service_url.rsplit(":", 1)[1])
        conn = kept_alive(port)
        # The second request on the same connection waits 2 s on the sandbox.
        requests.post(f"{stack.sandbox_url}/_sandbox/faults", timeout=5,
                      json={"path": "/passport/account/info/v2", "delay": 2})
        conn.request("POST", "/token/check", body=b'{"token": "keepalive-session"}',
                     headers={"Content-Type": "application/json"})
        time.sleep(0.5)
        os.kill(gunicorn_master(port), signal.SIGTERM)
        second = conn.getresponse()
        body = second.read()
        assert second.status == 200, body
        assert b'"live"' in body
        conn.close()


def test_a_request_sent_on_a_kept_alive_connection_just_after_sigterm_is_answered():
    with running_stack() as stack:
        port = int(stack.service_url.rsplit(":", 1)[1])
        conn = kept_alive(port)
        os.kill(gunicorn_master(port), signal.SIGTERM)
        time.sleep(0.2)
        conn.request("GET", "/ping")
        second = conn.getresponse()
        assert second.status == 200 and second.getheader("Connection", "").lower() == "close"
        second.read()
        conn.close()
