"""gunicorn's gevent worker, with the connection limits and timers it lacks (gunicorn.conf.py uses it).

Why a worker class of our own: gunicorn's gevent worker (27.0) holds an idle keep-alive connection
in one of its `worker_connections` slots for all of `keepalive`, never cuts a request body that
trickles in or a client that stops reading its answer, and on a stop waits for every idle
connection to time out. Measured on the default configuration without nginx (3 workers):
3,000 idle keep-alive connections filled every worker and new clients timed out; a body sent one
byte a second was still open after 150 s; SIGTERM took 75 s with idle clients, and a blocking-mode
wait's whole length with a waiter. gunicorn has no setting for these, so this class adds them
around the socket it hands to gunicorn's own HTTP parser and response writer (no HTTP is parsed
here):

- every read waits under the timer of the connection's phase: between requests `keepalive`
  (gunicorn's setting); a request's headers HEADER_TIMEOUT, from their first byte (from the accept
  on a new connection); its body BODY_TIMEOUT plus one second per BODY_MIN_RATE bytes received,
  counting only time spent waiting on the client (a body that falls behind is answered 408 and
  its connection closed). An idle or header wait that runs out closes the connection quietly;
- a write the client does not take for SEND_TIMEOUT ends the connection;
- near `worker_connections`, the connections idle the longest are closed to make room: closing an
  idle keep-alive connection is ordinary HTTP, and the client reconnects for its next request;
- a stop (SIGTERM, a HUP reload, max_requests) is told to the app through the WSGI environ
  (app/serving/stopping.py: blocking-mode waits answer at once), idle connections close after
  STOP_IDLE_GRACE, and requests in flight finish within gunicorn's graceful_timeout.

The timers can be changed from the environment (README "Serving configuration").
"""
from __future__ import annotations

import contextlib
import errno
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gevent
from gevent.event import Event
from gunicorn import util
from gunicorn.workers import ggevent
from werkzeug.exceptions import RequestTimeout

from app.serving import stopping

# A request's whole head (line and headers, at most ~8 KB + 100 fields) from its first byte.
HEADER_TIMEOUT = 10.0
# A body: this long for nothing, plus a second per BODY_MIN_RATE bytes received. 8 KB/s is a poor
# mobile uplink; a client slower than that on average is cut, however long it has been sending.
BODY_TIMEOUT = 20.0
BODY_MIN_RATE = 8192
# An answer the client does not read (nginx's send_timeout has the same default).
SEND_TIMEOUT = 60.0
# After a stop begins, a request already on its way on an idle connection is still read and
# answered (with `Connection: close`) for this long; then idle connections close.
STOP_IDLE_GRACE = 1.0
# Largest piece handed to one send(): the send timer is about progress, not about a whole answer.
SEND_PIECE = 256 * 1024


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True)
class Timers:
    keepalive: float
    header: float = HEADER_TIMEOUT
    body: float = BODY_TIMEOUT
    body_min_rate: float = BODY_MIN_RATE
    send: float = SEND_TIMEOUT
    stop_idle_grace: float = STOP_IDLE_GRACE

    @classmethod
    def from_environ(cls, keepalive: float) -> Timers:
        return cls(keepalive=keepalive, header=_env_float("GUNICORN_HEADER_TIMEOUT", HEADER_TIMEOUT),
                   body=_env_float("GUNICORN_BODY_TIMEOUT", BODY_TIMEOUT),
                   body_min_rate=max(_env_float("GUNICORN_BODY_MIN_RATE", BODY_MIN_RATE), 1.0),
                   send=_env_float("GUNICORN_SEND_TIMEOUT", SEND_TIMEOUT))


class BodyTooSlow(RequestTimeout):
    """Raised from a body read into the app, which answers it as 408 `request_timeout`."""

    description = ("the request body arrived too slowly and was cut; send it again, at a steady pace "
                   "(uploads from slow links: through a proxy that buffers the body, such as nginx)")


IDLE, HEAD, BODY = "idle", "head", "body"


class ClientSocket:
    """A client connection as gunicorn's parser and response writer use it: every read waits under
    the timer of the phase the connection is in, every write under SEND_TIMEOUT. The worker moves
    it between phases; the rest of the socket is the real one."""

    def __init__(self, sock, timers: Timers, connections: Connections | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sock = sock
        self.timers = timers
        self.connections = connections
        self.clock = clock
        self.phase = IDLE
        self.requests = 0
        self.idle_since = clock()
        self._deadline = self.idle_since + timers.header   # a new connection: its first head, from the accept
        self.waiting = False    # parked in a read with no byte of the next request yet: safe to close
        self.closing = False    # closed to make room, for a stop, or after a 408: reads end
        self._linger = False    # a 408 was answered with body bytes unread: close without a reset
        self._waited = 0.0      # this body: seconds spent waiting on the client
        self._received = 0

    def __getattr__(self, name: str):
        if name == "_sock":
            raise AttributeError(name)
        return getattr(self._sock, name)

    # -- phases (told by the worker) ----------------------------------------------------------
    def awaiting_request(self) -> None:
        """Between requests: idle until a byte of the next one arrives."""
        if self.requests:
            self.phase = IDLE
            self.idle_since = self.clock()
            self._deadline = self.idle_since + self.timers.keepalive

    def request_started(self) -> None:
        """The head is parsed; the app runs and reads the body."""
        self.phase = BODY
        self.requests += 1
        self._waited = 0.0
        self._received = 0

    def close_idle(self) -> None:
        """Close a connection parked between requests: its read ends as if the client had closed."""
        self.closing = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    # -- reads --------------------------------------------------------------------------------
    def recv(self, size: int, flags: int = 0) -> bytes:
        if self.closing:
            return b""
        if self.phase == BODY:
            return self._recv_body(size, flags)
        deadline = self._deadline
        if self.phase == IDLE and self.connections is not None and self.connections.idle_until is not None:
            deadline = min(deadline, self.connections.idle_until)
        left = deadline - self.clock()
        if left <= 0:
            return b""      # gunicorn's parser reads this as the client closing: the connection ends quietly
        self.waiting = self.phase == IDLE
        try:
            self._sock.settimeout(left)
            data = self._sock.recv(size, flags)
        except TimeoutError:
            return b""
        finally:
            self.waiting = False
        if data and self.phase == IDLE:
            self.phase = HEAD
            if self.requests:    # a kept-alive connection: the head's time starts with its first byte
                self._deadline = self.clock() + self.timers.header
        return data

    def _recv_body(self, size: int, flags: int) -> bytes:
        allowance = self.timers.body + self._received / self.timers.body_min_rate - self._waited
        if allowance <= 0:
            raise self._too_slow()
        started = self.clock()
        try:
            self._sock.settimeout(allowance)
            data = self._sock.recv(size, flags)
        except TimeoutError:
            raise self._too_slow() from None
        finally:
            self._waited += self.clock() - started
        self._received += len(data)
        return data

    def _too_slow(self) -> BodyTooSlow:
        self.closing = self._linger = True     # the rest of the body is never read: closed after the 408
        return BodyTooSlow()

    # -- writes -------------------------------------------------------------------------------
    def send(self, data, flags: int = 0) -> int:
        self._sock.settimeout(self.timers.send)
        try:
            return self._sock.send(data, flags)
        except TimeoutError:
            raise self._not_reading() from None

    def sendall(self, data, flags: int = 0) -> None:
        view = memoryview(data).cast("B")
        while view:
            sent = self.send(view[:SEND_PIECE], flags)
            view = view[sent:]

    def sendfile(self, file, offset: int = 0, count: int | None = None) -> int:
        self._sock.settimeout(self.timers.send)
        try:
            return self._sock.sendfile(file, offset, count)
        except TimeoutError:
            raise self._not_reading() from None

    def _not_reading(self) -> OSError:
        # Reported as a broken pipe: gunicorn then drops the connection as one whose client left.
        self.closing = True
        return BrokenPipeError(errno.EPIPE, f"the client read nothing of its answer for {self.timers.send:g} s")

    def close(self) -> None:
        if self._linger:
            # Unread bytes at close() would make the kernel send a reset, which can destroy the 408
            # before the client reads it: half-close, drain a little, then close.
            util.close_graceful(self._sock, timeout=1.0)
        else:
            self._sock.close()


class Connections:
    """A worker's open client connections: room for new ones, and closing idle ones on a stop."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(limit, 1)
        self.spare = max(limit // 10, 1)   # kept free for new clients while connections idle
        self.open: set[ClientSocket] = set()
        self.idle_until: float | None = None    # a stop: idle connections end at this time
        self.clock = clock

    def opened(self, conn: ClientSocket) -> int:
        """Count a new connection; when the worker is nearly full, close the connections idle the
        longest (up to `spare` of them). How many were closed."""
        self.open.add(conn)
        if len(self.open) < self.limit - self.spare:
            return 0
        idle = sorted((c for c in self.open if c.waiting and not c.closing), key=lambda c: c.idle_since)
        for conn in idle[:self.spare]:
            conn.close_idle()
        return min(len(idle), self.spare)

    def closed(self, conn: ClientSocket) -> None:
        self.open.discard(conn)

    def stop_in(self, grace: float) -> None:
        """A stop: from `grace` seconds on, a connection waiting for its next request closes."""
        self.idle_until = self.clock() + grace

    def close_all_idle(self) -> None:
        """Close every connection parked between requests now (their waits began before the stop)."""
        for conn in list(self.open):
            if conn.waiting and not conn.closing:
                conn.close_idle()


class GeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker with the timers and the room described in this module's docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.timers = Timers.from_environ(float(self.cfg.keepalive))
        self.connections = Connections(self.worker_connections)
        self.stopping = Event()     # bound to a hub only when first waited on, in the worker
        self._by_greenlet: dict[gevent.Greenlet, ClientSocket] = {}

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app, signal = self.wsgi, self.stopping

        def told_of_stops(environ, start_response):
            environ[stopping.KEY] = signal
            return app(environ, start_response)

        self.wsgi = told_of_stops

    def handle(self, listener, client, addr) -> None:
        if self.cfg.is_ssl:
            # gunicorn's own TLS (TLS normally ends at nginx): its handshake and ALPN checks need the
            # SSL socket itself, so it goes unwrapped, without these timers.
            return super().handle(listener, client, addr)
        conn = ClientSocket(client, self.timers, self.connections)
        closed = self.connections.opened(conn)
        if closed:
            self.log.info("closed %d idle connections to make room (%d open, worker_connections %d)",
                          closed, len(self.connections.open), self.worker_connections)
        me = gevent.getcurrent()
        self._by_greenlet[me] = conn
        try:
            super().handle(listener, conn, addr)
        finally:
            self._by_greenlet.pop(me, None)
            self.connections.closed(conn)

    def timeout_ctx(self):
        """Before each request on a kept-alive connection: its idle timer replaces gunicorn's own."""
        conn = self._by_greenlet.get(gevent.getcurrent())
        if conn is None:
            return super().timeout_ctx()
        return _awaiting(conn)

    def handle_request(self, listener_name, req, sock, addr):
        if isinstance(sock, ClientSocket):
            sock.request_started()
        try:
            return super().handle_request(listener_name, req, sock, addr)
        finally:
            if not self.alive:     # max_requests reached: the worker stops after this request
                self._begin_stop()

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        gevent.spawn(self._begin_stop)    # out of the signal handler, as gunicorn does for its quit

    def _begin_stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.connections.stop_in(self.timers.stop_idle_grace)
        gevent.spawn_later(self.timers.stop_idle_grace, self.connections.close_all_idle)


@contextlib.contextmanager
def _awaiting(conn: ClientSocket) -> Iterator[None]:
    conn.awaiting_request()
    yield
