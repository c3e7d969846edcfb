"""Issue 21, section 2, attacked the way a client can: hostile input over real sockets to gunicorn as
the README runs it (gunicorn.conf.py's default: several gevent workers), with several hostile
requests in flight in one worker at once. Every answer is a 4xx in our JSON shape, and the workers
go on serving."""
from __future__ import annotations

import json
import secrets
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sandbox.stack import HOST, Stack, running_stack
from tests.e2e.conftest import FAST, TIMEOUT

pytestmark = pytest.mark.e2e
BODY_ROUTES = ["/v1/videos/generations", "/v1/videos", "/v1/images/generations", "/v1/images/compositions",
               "/v1/images/edits", "/v1/videos/tasks/batch", "/v1/images/tasks/batch", "/token/check"]
HELD = 12            # connections held open at once: with W workers, some worker holds >= 12/W of them


@pytest.fixture(scope="module")
def default_stack():
    with running_stack(workers=None) as stack:     # None: gunicorn.conf.py decides, as in production
        yield stack


def workers_of(stack: Stack) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == stack.service_pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def owners(stack: Stack, client_ports: set[int], workers: list[int]) -> dict[int, int]:
    """client port -> the worker whose socket serves it (from /proc: the kernel's own tables)."""
    service_port = urlsplit(stack.service_url).port
    inode_of = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == service_port and int(remote.split(":")[1], 16) in client_ports:
            inode_of[f"socket:[{inode}]"] = int(remote.split(":")[1], 16)
    found = {}
    for pid in workers:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    target = fd.readlink().as_posix()
                except OSError:
                    continue
                if target in inode_of:
                    found[inode_of[target]] = pid
        except OSError:
            continue
    return found


def raw_request(stack: Stack, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection((HOST, urlsplit(stack.service_url).port), timeout=20)
    sock.sendall(head.encode() + body)
    return sock


def chunked_head(path: str, content_type: str = "application/json") -> str:
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer e2e-hostile-{secrets.token_hex(4)}\r\n"
            f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")


def answer_of(sock: socket.socket) -> tuple[int, dict, dict]:
    data = b""
    with sock:
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("size", ["zz", "-1"])
@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data; boundary=x"])
def test_a_bad_chunk_size_is_a_400_on_every_body_route(default_stack, content_type, size):
    socks = [raw_request(default_stack, chunked_head(path, content_type), f"{size}\r\n{{}}\r\n0\r\n\r\n".encode())
             for path in BODY_ROUTES]
    for path, sock in zip(BODY_ROUTES, socks):
        status, headers, body = answer_of(sock)
        assert status == 400 and body["error"]["code"] == "invalid_request", (path, body)
        assert headers.get("Content-Type", "").startswith("application/json")


def hostile_requests(stack: Stack) -> list[tuple[str, requests.Response, int, str]]:
    """Complete hostile requests, each with the status and code it must get."""
    url, auth = stack.service_url, {"Authorization": f"Bearer e2e-hostile-{secrets.token_hex(4)}"}
    deep = {"prompt": "a fox", "images": "[" * 100_000}
    sent = []

    def send(name, status, code, method, path, **kwargs):
        kwargs.setdefault("headers", auth)
        sent.append((name, requests.request(method, url + path, timeout=TIMEOUT, **kwargs), status, code))

    for model in ([None, None], {"a": 1}, False, 0, [], {}):
        send(f"model {model!r}", 400, "invalid_request", "POST", "/v1/videos", json={"prompt": "a cat", "model": model})
    send("n 2.9", 400, "invalid_request", "POST", "/v1/images/generations", json={"prompt": "a fox", "n": 2.9})
    for route in ("/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"):
        send(f"deep images {route}", 400, "invalid_request", "POST", route, files={"x": ("", b"")}, data=deep)
    send("100k token", 400, "invalid_request", "POST", "/token/check", json={"token": "a" * 100_000})
    send("5k bearer", 400, "invalid_request", "GET", "/v1/videos/tasks/123",
         headers={"Authorization": "Bearer " + "b" * 5000})
    send("delete generations", 405, "method_not_allowed", "DELETE", "/v1/videos/generations")
    send("get batch", 405, "method_not_allowed", "GET", "/v1/images/tasks/batch")
    return sent


def test_hostile_requests_in_flight_together_in_one_worker_are_all_answered(default_stack):
    workers = workers_of(default_stack)
    assert len(workers) >= 2, f"the default config runs several workers, found {workers}"
    # Bodies that have begun and stall: each request sits in a worker, reading, until we go on.
    held = [raw_request(default_stack, chunked_head(BODY_ROUTES[i % len(BODY_ROUTES)]), b"1\r\n{\r\n")
            for i in range(HELD)]
    ports = {s.getsockname()[1] for s in held}
    deadline = time.monotonic() + 10
    while len(found := owners(default_stack, ports, workers)) < HELD and time.monotonic() < deadline:
        time.sleep(0.05)
    per_worker = Counter(found.values())
    assert len(found) == HELD and max(per_worker.values()) >= 2, f"held connections per worker: {per_worker}"

    # More hostile requests at the same time, on every worker, while those are held.
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: hostile_requests(default_stack), range(4)))
    for name, resp, status, code in (item for batch in batches for item in batch):
        assert resp.status_code == status and resp.json()["error"]["code"] == code, (name, resp.text[:300])
        if status == 405:
            assert resp.headers["Allow"]

    for sock in held:
        sock.sendall(b"zz\r\n}\r\n0\r\n\r\n")
    for sock in held:
        status, _, body = answer_of(sock)
        assert status == 400 and body["error"]["code"] == "invalid_request", body

    # Every worker still serves: enough fresh submits to reach all of them.
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer e2e-hostile-{secrets.token_hex(6)}"
    for i in range(3 * len(workers)):
        resp = http.post(f"{default_stack.service_url}/v1/videos/generations", json={"prompt": f"{FAST} after {i}"},
                         headers={"Connection": "close"}, timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
