"""The client's lean send path puts on the wire exactly what `requests.Session.post` would.

A loopback server records the raw request bytes (request line, headers in order, body) of the
client's calls and of the same calls made the ordinary way; they must be byte-identical, for the
first call and for later ones (the default query string is remembered between calls).
"""
import json
import socket
import threading
import time

import pytest
import requests

from app.jimeng import signing
from app.jimeng.client import HISTORY_PATH, JimengClient, make_session
from app.jimeng.payloads import compact_json
from app.jimeng.regions import parse_token

CLOCK = 1770000000.0


class RecordingServer:
    """Loopback HTTP/1.1: records each raw request and answers an empty success envelope."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[bytes] = []
        self.connections = 0
        self.hang_up_after_answer = False   # keep-alive promised, then the connection is closed
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                payload = b'{"ret":"0","errmsg":"success","data":{}}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nSet-Cookie: sessionid=someone-else; Path=/\r\n"
                             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(payload), payload))
                if self.hang_up_after_answer:
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server():
    srv = RecordingServer()
    yield srv
    srv.close()


def ordinary_post(server: RecordingServer, token, path: str, body: dict, params: dict | None = None,
                  session_headers: dict | None = None) -> bytes:
    """The same call through `Session.post`, as the client made it before the lean path."""
    query = {**signing.default_params(token), **(params or {})}
    headers = {**signing.headers(token, path=path, origin=token.region.main_base, referer=None,
                                 device_time=int(CLOCK)), "Content-Type": "application/json"}
    session = make_session()
    session.headers.update(session_headers or {})
    before = len(server.requests)
    session.post(server.url + path, params=query, data=compact_json(body).encode(), headers=headers,
                 timeout=(5, 10)).raise_for_status()
    session.close()
    return server.requests[before]


@pytest.mark.parametrize("raw_token", ["sess-wire-0123456789", "us-sess-wire-0123456789"])
def test_history_call_bytes_are_those_of_session_post(server, raw_token):
    token = parse_token(raw_token)
    client = JimengClient(upstream_url=server.url, clock=lambda: CLOCK)
    body = {"history_ids": ["1234567890"]}
    expected = ordinary_post(server, token, HISTORY_PATH, body)
    for _ in range(2):   # the second call uses the remembered query string
        before = len(server.requests)
        assert client.history_by_ids(token, ["1234567890"]) == {}
        assert server.requests[before] == expected
    assert json.loads(expected.split(b"\r\n\r\n", 1)[1]) == body


def test_extra_params_make_their_own_query_string(server):
    token = parse_token("sess-wire-0123456789")
    client = JimengClient(upstream_url=server.url, clock=lambda: CLOCK)
    client.call(token, HISTORY_PATH, {"history_ids": ["1"]})
    before = len(server.requests)
    client.call(token, HISTORY_PATH, {"history_ids": ["1"]}, params={"commerce_with_input_video": "1"})
    sent = server.requests[before]
    assert sent == ordinary_post(server, token, HISTORY_PATH, {"history_ids": ["1"]},
                                 {"commerce_with_input_video": "1"})
    assert b"commerce_with_input_video=1" in sent.split(b"\r\n", 1)[0]


def test_response_cookies_are_kept_nowhere(server):
    """The server sets a cookie on every answer; skipping Session.send must not start keeping it."""
    client = JimengClient(upstream_url=server.url, clock=lambda: CLOCK)
    client.history_by_ids(parse_token("sess-wire-0123456789"), ["1"])
    assert len(client.session.cookies) == 0


def test_session_headers_merge_as_requests_merges_them(server):
    """A session header spelled differently from the call's is replaced in place, keeping its spot."""
    extra = {"accept": "text/html", "X-Trace": "1", "user-agent": "someone"}
    token = parse_token("sess-wire-0123456789")
    client = JimengClient(upstream_url=server.url, clock=lambda: CLOCK)
    client.session.headers.update(extra)
    client.history_by_ids(token, ["1"])
    sent = server.requests[-1]
    assert sent == ordinary_post(server, token, HISTORY_PATH, {"history_ids": ["1"]}, session_headers=extra)
    head = sent.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:]
    names = [line.split(":")[0] for line in head]
    assert names.count("Accept") == 1 and "accept" not in names and "X-Trace" in names
    assert "User-Agent: someone" not in head


def test_a_pooled_connection_the_host_closed_is_not_reused(server):
    """Hosts close idle keep-alive connections. The next call must see that before sending: sent on
    the dead connection, a submit would fail after leaving the client, and could not be resent."""
    server.hang_up_after_answer = True
    token = parse_token("sess-wire-0123456789")
    client = JimengClient(upstream_url=server.url, clock=lambda: CLOCK)
    for n in range(1, 4):
        # Sent once, never retried (as a submit is): it only succeeds if it went out on a live connection.
        assert client.call(token, HISTORY_PATH, {"history_ids": ["1"]}, idempotent=False) == {}
        deadline = time.monotonic() + 5
        while server.connections < n and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)   # the server's close reaches the client's socket
    assert len(server.requests) == 3 and server.connections == 3
