"""The documented deployment: Debian's nginx, configured by deploy/nginx.conf, in front of gunicorn.

The main flows go through it: submit, poll, batch, content with Range, a 20 MB upload, blocking
mode past nginx's 60 s default, nginx's own errors in our JSON shape (413, 429, 502, 504), and
slow clients that must not hold up anyone else.
"""
from __future__ import annotations

import json
import secrets
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.stack import ROOT, Stack, running_stack
from tests.e2e.conftest import FAST, TIMEOUT, session_for
from tests.e2e.nginx import running_nginx

pytestmark = pytest.mark.e2e

MAX_UPLOAD_MB = 25
WAIT_TIMEOUT = 90          # shortened from 900: nginx must still wait past its 60 s default
SLOW_CLIENTS = 200
ANSWERED_WITHIN = (1.0, 1.0)   # connect, read: "other clients are answered within 1 s"


@dataclass(frozen=True)
class Gateway:
    url: str
    stack: Stack


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    env = {"MAX_UPLOAD_MB": str(MAX_UPLOAD_MB), "WAIT_TIMEOUT": str(WAIT_TIMEOUT), "WAIT_POLL_SECONDS": "1"}
    with running_stack(service_env=env, workers=2) as stack:
        with running_nginx(urlsplit(stack.service_url).netloc, max_upload_mb=MAX_UPLOAD_MB,
                           wait_timeout=WAIT_TIMEOUT) as url:
            yield Gateway(url, stack)


@pytest.fixture(scope="module")
def http() -> requests.Session:
    return session_for(f"e2e-nginx-{secrets.token_hex(8)}")


def submit(gw: Gateway, http: requests.Session, **kw) -> dict:
    resp = http.post(f"{gw.url}/v1/videos/generations", timeout=TIMEOUT, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def until_finished(gw: Gateway, http: requests.Session, task_id: str, deadline_s: float = 60) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        resp = http.get(f"{gw.url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
        if resp.json()["status"] in ("completed", "failed"):
            return resp.json()
        time.sleep(0.3)
    pytest.fail(f"task {task_id} did not finish in {deadline_s} s")


def test_blocking_mode_outlives_nginx_default_timeout_while_the_rest_flows(gateway, http):
    # Queued 62 s: the answer comes after nginx's default 60 s read timeout would have cut it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        blocking = pool.submit(http.post, f"{gateway.url}/v1/videos/generations", timeout=(5, WAIT_TIMEOUT + 60),
                               json={"prompt": "[sandbox:queue=62] [sandbox:generate=1] a slow tide", "wait": True})
        # Meanwhile, the ordinary flows through the same gateway.
        task = submit(gateway, http, json={"prompt": f"{FAST} a lighthouse"}, headers={"X-Request-Id": "rid-e2e-1"})
        finished = until_finished(gateway, http, task["task_id"])
        assert finished["status"] == "completed"

        batch = http.post(f"{gateway.url}/v1/videos/tasks/batch", json={"task_ids": [task["task_id"], "bogus"]},
                          timeout=TIMEOUT)
        assert batch.status_code == 200
        assert [d["status"] for d in batch.json()["data"]] == ["completed", "not_found"]

        whole = http.get(f"{gateway.url}/v1/videos/tasks/{task['task_id']}/content", timeout=TIMEOUT)
        part = http.get(f"{gateway.url}/v1/videos/tasks/{task['task_id']}/content", timeout=TIMEOUT,
                        headers={"Range": "bytes=10-109"})
        assert whole.status_code == 200 and len(whole.content) > 110
        assert part.status_code == 206 and part.content == whole.content[10:110]
        assert part.headers["Content-Range"].startswith("bytes 10-109/")

        resp = blocking.result()
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"][0]["url"].startswith("http")


def test_request_ids_pass_through_both_ways(gateway, http):
    mine = http.get(f"{gateway.url}/v1/models", headers={"X-Request-Id": "rid-from-client"}, timeout=TIMEOUT)
    assert mine.headers["X-Request-Id"] == "rid-from-client"
    minted = http.get(f"{gateway.url}/v1/models", timeout=TIMEOUT).headers["X-Request-Id"]
    assert len(minted) == 32 and int(minted, 16) >= 0    # nginx's own $request_id, also seen by the service


def png_of_size(megabytes: int) -> bytes:
    """The sandbox's sample PNG with a private ancillary chunk padding it to `megabytes` (still a valid PNG)."""
    png = (ROOT / "sandbox" / "assets" / "sample.png").read_bytes()
    filler = b"\0" * (megabytes * 1024 * 1024)
    chunk = struct.pack(">I", len(filler)) + b"jmPd" + filler + struct.pack(">I", zlib.crc32(b"jmPd" + filler))
    return png[:33] + chunk + png[33:]   # right after IHDR (8 + 25 bytes)


def test_a_20_mb_upload_reaches_the_service(gateway, http):
    image = png_of_size(20)
    assert len(image) > 20 * 1024 * 1024
    task = submit(gateway, http, data={"prompt": f"{FAST} it moves"}, files={"first": ("big.png", image, "image/png")})
    assert until_finished(gateway, http, task["task_id"])["status"] == "completed"


def test_nginx_own_413_is_our_json_error(gateway):
    # A body over the cap is refused by nginx from the headers alone, before any byte of it.
    host, port = urlsplit(gateway.url).hostname, urlsplit(gateway.url).port
    too_big = (MAX_UPLOAD_MB * 12 + 2) * 1024 * 1024
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(f"POST /v1/videos/generations HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                     f"X-Request-Id: rid-413\r\nContent-Length: {too_big}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head and b"X-Request-Id: rid-413" in head
    error = json.loads(body)["error"]
    assert error["code"] == "payload_too_large" and error["request_id"] == "rid-413" and "param" in error


def test_nginx_own_502_is_our_json_error_when_the_service_is_gone(gateway):
    # A second gateway whose upstream listens on nothing: nginx itself answers.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"   # bound, never listening: connections are refused
        with running_nginx(dead, max_upload_mb=MAX_UPLOAD_MB, wait_timeout=WAIT_TIMEOUT) as url:
            resp = requests.get(f"{url}/v1/models", timeout=TIMEOUT)
    assert resp.status_code == 502 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["error"]["code"] == "service_unavailable" and resp.headers["Retry-After"] == "5"


def test_a_burst_of_submits_gets_nginx_own_429_in_our_json_shape(gateway, http):
    # A gateway of its own (its own limit_req zone): the shared one's other tests submit freely.
    # 1 r/m with nginx.conf's burst of 20: the first 21 submits pass, the rest are nginx's 429.
    with running_nginx(urlsplit(gateway.stack.service_url).netloc, max_upload_mb=MAX_UPLOAD_MB,
                       wait_timeout=WAIT_TIMEOUT, submit_rate="1r/m") as url:
        # OpenAI's create, POST /v1/videos: a submit like the others. Invalid bodies: the service
        # answers 400 at once and starts nothing, but each one still counts against the limit.
        statuses = [http.post(f"{url}/v1/videos", json={"seconds": "nope"}, timeout=TIMEOUT).status_code
                    for _ in range(24)]
        limited = http.post(f"{url}/v1/images/compositions", json={}, headers={"X-Request-Id": "rid-429"},
                            timeout=TIMEOUT)
        listed = http.get(f"{url}/v1/videos", timeout=TIMEOUT)       # the list shares the path: never limited
    assert 429 not in statuses[:21] and statuses[21:] == [429, 429, 429], statuses
    assert limited.status_code == 429 and limited.headers["Content-Type"].startswith("application/json")
    assert limited.headers["Retry-After"] == "5" and limited.headers["X-Request-Id"] == "rid-429"
    error = limited.json()["error"]
    assert error["code"] == "rate_limited" and error["request_id"] == "rid-429" and "param" in error
    assert listed.status_code != 429, listed.text


def test_nginx_own_504_is_our_json_error_when_the_service_answers_too_late(gateway, http):
    # proxy_read_timeout shortened to 2 s; the service waits (Prefer: wait) on a task queued for 6 s.
    with running_nginx(urlsplit(gateway.stack.service_url).netloc, max_upload_mb=MAX_UPLOAD_MB,
                       wait_timeout=WAIT_TIMEOUT, read_timeout=2) as url:
        started = time.monotonic()
        resp = http.post(f"{url}/v1/videos", json={"prompt": "[sandbox:queue=6] [sandbox:generate=1] late tide"},
                         headers={"Prefer": "wait", "X-Request-Id": "rid-504"}, timeout=TIMEOUT)
        took = time.monotonic() - started
    assert resp.status_code == 504 and resp.headers["Content-Type"].startswith("application/json"), resp.text
    assert 1.5 < took < 6, took
    assert resp.headers["X-Request-Id"] == "rid-504"
    error = resp.json()["error"]
    assert error["code"] == "gateway_timeout" and error["request_id"] == "rid-504" and "param" in error


def slow_header_connections(host: str, port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    """`count` connections that have sent half a request line and then nothing more (for now)."""
    socks = []
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection((host, port), timeout=5))
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        socks.append(sock)
    return socks


@pytest.mark.parametrize("through", ["nginx", "gunicorn"])
def test_200_slow_header_clients_leave_others_answered_within_a_second(gateway, http, through):
    url = gateway.url if through == "nginx" else gateway.stack.service_url
    parts = urlsplit(url)
    with ExitStack() as stack:
        socks = slow_header_connections(parts.hostname, parts.port, SLOW_CLIENTS, stack)
        for sock in socks:          # a trickle: one more byte each, the request still unfinished
            sock.sendall(b"x")
        for _ in range(3):          # fresh connections each time: no reuse of one already accepted
            assert requests.get(f"{url}/ping", timeout=ANSWERED_WITHIN).text == "pong"
            assert http.get(f"{url}/v1/models", timeout=ANSWERED_WITHIN).status_code == 200
