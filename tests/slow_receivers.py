"""Webhook receivers that do not answer like a good one: they hold an attempt open. Raw sockets on
loopback, so nothing in the HTTP stack hurries them.

- `trickling`: answers a status line, then one header byte every `every` seconds (requests'
  per-read timeout never fires), for as long as the connection stays open;
- `holding`: reads the request, then waits until the test releases it, and answers 200.

Each keeps the `webhook-id` of every request it got (`ids`), and how many it holds now (`open`).
"""
from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class SlowReceiver:
    url: str
    ids: list[str] = field(default_factory=list)
    open: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answer_after: int = 10**9    # requests after this many are answered 200 at once (a receiver back to health)

    def wait_open(self, count: int, timeout: float = 10.0) -> None:
        """Until `count` requests are held at once."""
        deadline = time.monotonic() + timeout
        while self.open < count:
            assert time.monotonic() < deadline, f"{self.open} of {count} requests held within {timeout} s"
            time.sleep(0.01)


def _read_head(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("latin-1")


def _webhook_id(head: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                 if line.lower().startswith("webhook-id:")), "")


@contextlib.contextmanager
def slow_receiver(kind: str, host: str = "127.0.0.1", every: float = 0.2) -> Iterator[SlowReceiver]:
    server = socket.create_server((host, 0))
    receiver = SlowReceiver(url=f"http://{host}:{server.getsockname()[1]}/slow")
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                head = _read_head(conn)
                with receiver.lock:
                    receiver.ids.append(_webhook_id(head))
                    slow = len(receiver.ids) <= receiver.answer_after
                    receiver.open += 1
                try:
                    if not slow:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    elif kind == "trickling":
                        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                        while not stop.wait(every):
                            conn.sendall(b"a")
                    else:
                        receiver.release.wait(30)
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                finally:
                    with receiver.lock:
                        receiver.open -= 1
            except OSError:
                pass            # the service cut the connection: what the tests expect of it

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        stop.set()
        receiver.release.set()
        thread.join(5)
        server.close()
