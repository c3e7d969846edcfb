"""A real webhook receiver on loopback, the client's side of the sandbox: it verifies every request
with the `standardwebhooks` library (as a client's receiver would) and answers what a test tells it
to. `make demo` shows its events beside the progress bar; the tests and the bench script it."""
from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"   # 24 bytes, Standard Webhooks' example form


@dataclass
class Received:
    headers: dict
    body: bytes
    event: dict | None            # the verified payload; None when verification failed
    answered: int
    at: float


@dataclass
class Receiver:
    url: str
    secret: str
    received: list[Received] = field(default_factory=list)
    # Answers per event id, consumed in order; afterwards 200.
    script: dict[str, list[int]] = field(default_factory=dict)
    default_script: list[int] = field(default_factory=list)
    headers_to_send: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    on_event: Callable[[Received], None] | None = None     # told of each request, verified or not

    def events(self, status_ok_only: bool = True) -> list[dict]:
        with self.lock:
            return [r.event for r in self.received if r.event is not None and (
                not status_ok_only or 200 <= r.answered < 300)]

    def wait_for(self, count: int, timeout: float) -> list[dict]:
        """At least `count` accepted events, or an AssertionError saying how many came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.events()) >= count:
                return self.events()
            time.sleep(0.05)
        raise AssertionError(f"{len(self.events())} of {count} events arrived within {timeout} s; "
                             f"requests: {[(r.answered, r.headers.get('webhook-id')) for r in self.received]}")


@contextlib.contextmanager
def running_receiver(secret: str = SECRET, on_event: Callable[[Received], None] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(url="", secret=secret, on_event=on_event)
    verifier = Webhook(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = verifier.verify(body, headers)
            except WebhookVerificationError:
                event = None
            with receiver.lock:
                event_id = headers.get("webhook-id", "")
                queue = receiver.script.setdefault(event_id, list(receiver.default_script))
                status = (queue.pop(0) if queue else 200) if event is not None else 400
                received = Received(headers, body, event, status, time.time())
                receiver.received.append(received)
            if receiver.on_event is not None:
                receiver.on_event(received)
            payload = json.dumps({"ok": status < 300}).encode()
            self.send_response(status)
            for name, value in receiver.headers_to_send.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
