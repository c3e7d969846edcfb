"""Token proxies (issue 8, hole 1): off by default, only allowlisted targets, no port-scanner answers."""
from __future__ import annotations

import socket
import threading

import pytest

from app.factory import create_app
from tests.api.helpers import auth

# Jimeng is HTTPS, so an HTTP proxy is asked to CONNECT, as in production.
UPSTREAM = "https://jimeng.test"


class Listener:
    """A loopback TCP port that counts connections and answers each with an HTTP 200 page (an open
    port where a web server listens). Whatever a client sends (a CONNECT, a plain request, a SOCKS
    greeting), it gets the page back: this is what told an open port from a closed one before."""

    ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 23\r\nConnection: close\r\n\r\n"
              b"<html>it works!</html>\n")

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.sock.settimeout(0.05)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(65536)
                    conn.sendall(self.ANSWER)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def make_client(allowlist: str):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "TOKEN_PROXY_ALLOWLIST": allowlist,
                      "JIMENG_TIMEOUT": 2.0})
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app.test_client()


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_a_proxy_prefix_without_an_allowlist_is_refused_before_any_connection(listener, scheme):
    client = make_client("")
    resp = client.post("/token/check", json={"token": f"{scheme}://127.0.0.1:{listener.port}@x"})

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "proxy_not_allowed" and error["param"] == "token"
    assert "TOKEN_PROXY_ALLOWLIST" in error["message"]
    assert listener.accepted == 0


def test_a_proxy_prefix_in_the_authorization_header_is_refused_too(listener):
    client = make_client("")
    resp = client.get("/v1/videos/tasks/123", headers=auth(f"http://127.0.0.1:{listener.port}@sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "proxy_not_allowed"
    assert listener.accepted == 0


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "169.254.169.254", "[::1]", "10.1.2.3"])
def test_an_allowlisted_name_is_still_held_to_the_address_rule(listener, host):
    """Listing a name is not listing what it resolves to: loopback needs a CIDR entry."""
    client = make_client("localhost proxy.example")
    resp = client.post("/token/check", json={"token": f"http://{host}:{listener.port}@x"})

    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "proxy_not_allowed"
    assert listener.accepted == 0


def test_a_listed_cidr_lets_a_private_proxy_through(listener):
    client = make_client("127.0.0.0/8")
    resp = client.post("/token/check", json={"token": f"http://127.0.0.1:{listener.port}@x"})

    assert listener.accepted >= 1
    assert resp.status_code == 503


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_open_and_closed_ports_answer_alike(listener, scheme):
    """Before, an open port that spoke HTTP answered `(SSLError)` and a closed one `(ProxyError)`."""
    client = make_client("127.0.0.0/8")
    answers = []
    for port in (listener.port, closed_port()):
        resp = client.post("/token/check", json={"token": f"{scheme}://127.0.0.1:{port}@x"})
        answers.append((resp.status_code, resp.get_json()["error"]["code"], resp.get_json()["error"]["message"]))

    assert listener.accepted >= 1
    assert answers[0] == answers[1]
    assert answers[0][:2] == (503, "upstream_unavailable")
