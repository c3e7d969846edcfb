"""A total deadline for one upstream answer, headers and body included, and a cap on its size.

Socket timeouts bound each read, not the answer: a host that trickles one byte a second never
trips them. So every call runs under a `Watch` that shuts its connection down when the deadline
passes (the pool tells the watch which connection the call got), and bodies are read in pieces
with the deadline checked between them. What the watch cut is reported as a timeout.
"""
from __future__ import annotations

import contextvars
import heapq
import itertools
import os
import select
import socket
import sys
import threading
import time

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

CHUNK_BYTES = 64 * 1024
# The largest JSON answer we read from Jimeng or a storage host (a 100-record history is ~2 MB).
MAX_ANSWER_BYTES = 16 * 1024 * 1024

_current: contextvars.ContextVar[Watch | None] = contextvars.ContextVar("upstream_watch", default=None)


class AnswerTooLarge(Exception):
    """The answer grew past MAX_ANSWER_BYTES."""


class DeadlinePassed(Exception):
    """The whole answer did not arrive before the deadline."""


class Watch:
    """Cuts the connection of the calls made inside it once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + max(seconds, 0.0)
        self.fired = False
        self.ended = False
        self._conn = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def attach(self, conn) -> None:
        with self._lock:
            self._conn = conn
        if self.fired:
            self._shut(conn)

    def _fire(self) -> None:
        # Under the lock: once the call has ended, its connection may already serve another call.
        with self._lock:
            if self.ended:
                return
            self.fired = True
            if self._conn is not None:
                self._shut(self._conn)

    @staticmethod
    def _shut(conn) -> None:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Watch:
        self._token = _current.set(self)
        _watchdog.add(self)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.ended = True
        _current.reset(self._token)


class _Watchdog:
    """One thread per process fires every due Watch: a thread per call (threading.Timer) cost more
    than the rest of a status query. Watches wait in a heap by deadline; ended ones are skipped."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._pid = 0

    def add(self, watch: Watch) -> None:
        with self._cond:
            if self._pid != os.getpid():   # first use in this process (gunicorn forks workers)
                self._pid = os.getpid()
                self._heap.clear()
                threading.Thread(target=self._run, name="upstream-watchdog", daemon=True).start()
            heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
            if self._heap[0][2] is watch:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, watch = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            watch._fire()


_watchdog = _Watchdog()


class _WatchedPool:
    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)   # type: ignore[misc]
        watch = _current.get()
        if watch is not None:
            watch.attach(conn)
        return conn


# The system's poll, whatever gevent patched: a zero-timeout poll never blocks, so it needs no hub.
# gevent is only asked when something (gunicorn's gevent worker) loaded it: no import cost elsewhere.
_gevent_monkey = sys.modules.get("gevent.monkey")
_native_poll = _gevent_monkey.get_original("select", "poll") if _gevent_monkey else select.poll


class _QuickDropCheck:
    """Before reusing a pooled connection urllib3 asks whether the host closed it, with a zero-timeout
    poll. Under gunicorn's gevent worker that poll is gevent's, which sets up a hub watcher and a
    greenlet switch for a question the kernel answers at once: 7% of a status query's CPU at 256
    pollers. The same question, asked of the kernel directly: readable (data, EOF, error or hang-up)
    on an idle keep-alive connection means it is no longer usable."""

    @property
    def is_connected(self) -> bool:
        if self.sock is None:   # type: ignore[attr-defined]
            return False
        poller = _native_poll()
        poller.register(self.sock.fileno(), select.POLLIN)   # type: ignore[attr-defined]
        return not poller.poll(0)


class _HTTPConnection(_QuickDropCheck, HTTPConnection):
    pass


class _HTTPSConnection(_QuickDropCheck, HTTPSConnection):
    pass


class _HTTPPool(_WatchedPool, HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(_WatchedPool, HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections a `Watch` can cut (proxied calls keep only the body deadline)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def timeouts(connect: float, read: float, watch: Watch) -> tuple[float, float]:
    """(connect, read) socket timeouts that never outlast the watch."""
    remaining = max(watch.remaining(), 0.05)
    return min(connect, remaining), min(read, remaining)


def read_body(resp: requests.Response, watch: Watch, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The whole (decoded) body, or DeadlinePassed / AnswerTooLarge; transport errors propagate."""
    chunks, size = [], 0
    try:
        while True:
            if watch.fired or watch.remaining() <= 0:
                raise DeadlinePassed()
            try:
                chunk = resp.raw.read1(CHUNK_BYTES, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if watch.fired:
                    raise DeadlinePassed() from None
                raise requests.ConnectionError(exc) from None
            if not chunk:
                if watch.fired:
                    raise DeadlinePassed()
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise AnswerTooLarge()
            chunks.append(chunk)
    finally:
        resp.close()
