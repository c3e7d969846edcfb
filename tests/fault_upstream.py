"""A fault-injecting upstream for tests: a loopback HTTP server in front of the sandbox.

Calls pass through to a real sandbox (started in-process) unless a fault is queued for their
path; then the server misbehaves as a real upstream can: it hangs, resets the connection before
or in the middle of the answer, trickles the body, answers 5xx, 429, garbage or HTML with 200, a
huge body, records with odd fields, or a success whose payload is null (`{"ret": "0", "data": null}`). It counts the calls it saw per path, so tests can prove
what reached "Jimeng" (a generate call that may have arrived is never repeated).
"""
from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from werkzeug.serving import make_server

from sandbox import create_sandbox

FAULTS = ("hang", "reset_before", "reset_mid_body", "trickle", "http_500", "http_429", "garbage_json",
          "html_200", "huge_body", "odd_records", "null_data")
HUGE_BYTES = 40 * 1024 * 1024
HOLD_SECONDS = 30.0          # a hang or trickle lasts this long at most (or until the server stops)


def call_key(path: str) -> str:
    """The sandbox's key for a call: the path, or `/?Action=<Action>` for storage OpenAPI calls."""
    parts = urlsplit(path)
    if parts.path == "/":
        params = dict(p.partition("=")[::2] for p in parts.query.split("&") if p)
        return f"/?Action={params.get('Action', '')}"
    return parts.path


class FaultyUpstream:
    """Start with `running_faulty_upstream()`; queue faults with `inject(key, fault)`."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.calls: Counter = Counter()
        self.stopping = threading.Event()
        self._faults: dict[str, list[tuple[str, Callable | None]]] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def inject(self, key: str, fault: str, *, count: int = 1, mutate: Callable[[dict], None] | None = None) -> None:
        """The next `count` calls to `key` (a path, `/?Action=...`, or a prefix ending in `*`) play `fault`."""
        assert fault in FAULTS, fault
        with self._lock:
            self._faults.setdefault(key, []).extend([(fault, mutate)] * count)

    def _take(self, key: str) -> tuple[str, Callable | None] | None:
        """The next fault for `key`; a queued key ending in `*` matches as a prefix."""
        with self._lock:
            for queued, faults in self._faults.items():
                matches = key.startswith(queued[:-1]) if queued.endswith("*") else key == queued
                if matches and faults:
                    return faults.pop(0)
        return None

    def pending(self, key: str) -> int:
        """How many faults queued for `key` no call has played yet."""
        with self._lock:
            return len(self._faults.get(key, ()))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _handler_class(self):
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                key = call_key(self.path)
                upstream.calls[key] += 1
                fault = upstream._take(key)
                if fault is None:
                    self._send(*self._forward(body))
                else:
                    self._play(fault[0], fault[1], body)

            do_GET = do_POST = do_PUT = _any

            def _forward(self, body: bytes) -> tuple[int, dict, bytes]:
                conn = http.client.HTTPConnection(*urlsplit(upstream.backend).netloc.split(":"), timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {k: v for k, v in resp.getheaders()
                       if k.lower() not in ("connection", "transfer-encoding", "content-length")}
                conn.close()
                return resp.status, out, data

            def _send(self, status: int, headers: dict, data: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reset(self) -> None:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True

            def _hold(self, seconds: float) -> None:
                upstream.stopping.wait(seconds)

            def _play(self, fault: str, mutate: Callable | None, body: bytes) -> None:
                if fault == "hang":
                    self._hold(HOLD_SECONDS)
                    self._reset()
                elif fault == "reset_before":
                    self._reset()
                elif fault == "reset_mid_body":
                    status, headers, data = self._forward(body)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data) + 1024))
                    self.end_headers()
                    self.wfile.write(data[: max(len(data) // 2, 1)])
                    self.wfile.flush()
                    self._reset()
                elif fault == "trickle":
                    status, headers, data = self._forward(body)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    end = time.monotonic() + HOLD_SECONDS
                    for i in range(len(data)):
                        if upstream.stopping.is_set() or time.monotonic() > end:
                            break
                        try:
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                        except OSError:
                            break
                        time.sleep(0.05)
                    self._reset()
                elif fault in ("http_500", "http_429"):
                    status = int(fault[-3:])
                    headers = {"Content-Type": "text/plain"} | ({"Retry-After": "7"} if status == 429 else {})
                    self._send(status, headers, b"upstream fault\n")
                elif fault == "garbage_json":
                    self._send(200, {"Content-Type": "application/json"}, b'{"ret": "0", "data": {[[[')
                elif fault == "html_200":
                    self._send(200, {"Content-Type": "text/html"}, b"<html><body>Service busy</body></html>")
                elif fault == "huge_body":
                    # A well-formed envelope, padded: only a size cap tells it from a real answer.
                    head, tail = b'{"ret": "0", "errmsg": "success", "data": {"pad": "', b'"}}'
                    block = b"x" * (1024 * 1024)
                    blocks = HUGE_BYTES // len(block)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(head) + blocks * len(block) + len(tail)))
                    self.end_headers()
                    try:
                        self.wfile.write(head)
                        for _ in range(blocks):
                            self.wfile.write(block)
                        self.wfile.write(tail)
                    except OSError:
                        pass
                    self.close_connection = True
                elif fault == "null_data":
                    status, headers, data = self._forward(body)
                    self._send(status, headers, json.dumps(_nulled(json.loads(data))).encode())
                elif fault == "odd_records":
                    status, headers, data = self._forward(body)
                    answer = json.loads(data)
                    if mutate is not None:
                        mutate(answer)
                    self._send(status, headers, json.dumps(answer).encode())

        return Handler

    def close(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _nulled(answer: dict) -> dict:
    """A successful answer with its payload null: the envelope's `data` (and abroad's `response`),
    a storage OpenAPI answer's `Result`, an upload node's `data`."""
    if "ret" in answer:
        answer.pop("response", None)
        answer["data"] = None
    elif "Result" in answer:
        answer["Result"] = None
    else:
        answer["data"] = None
    return answer


@contextmanager
def running_faulty_upstream(sandbox_settings: dict | None = None) -> Iterator[FaultyUpstream]:
    """A sandbox on a free loopback port and the fault server in front of it; both stopped after."""
    sandbox = make_server("127.0.0.1", 0, create_sandbox(sandbox_settings or {}), threaded=True)
    sandbox_thread = threading.Thread(target=sandbox.serve_forever, daemon=True)
    sandbox_thread.start()
    upstream = FaultyUpstream(f"http://127.0.0.1:{sandbox.server_port}")
    thread = threading.Thread(target=upstream.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        upstream.close()
        sandbox.shutdown()
        thread.join(timeout=5)
        sandbox_thread.join(timeout=5)
