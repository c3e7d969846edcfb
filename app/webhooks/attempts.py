"""Delivery attempts in flight: each under one overall deadline, all cut at once when the consumer stops.

requests' timeouts bound each socket operation, not an attempt: a receiver sending one header byte
every few seconds held a consumer thread for as long as it liked (measured: 20 minutes, and past
its lease, so the sweep sent the same event again on another thread). Here the delivery session's
connection pools tell the attempt running on this thread which connection it uses, and a timer
shuts that connection's socket when the attempt's deadline passes, or at once when the consumer
stops: the blocked read returns, the attempt ends, the thread is free.
"""
from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Iterator

import requests
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

RECHECK_SECONDS = 0.05       # past the deadline, a connection still being opened is shut as soon as it is
_here = threading.local()    # the attempt this thread runs, for the pools to report connections to


class Attempt:
    """One attempt's connections and how it ended early: `expired` (its deadline) or `cut` (a stop)."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self.cut = False
        self._connections: list = []
        self._lock = threading.Lock()
        self._done = False
        self._timer: threading.Timer | None = None

    def _track(self, connection) -> None:
        with self._lock:
            self._connections.append(connection)
            if self.expired or self.cut:
                self._shut_locked()

    def _end(self, *, cut: bool = False) -> None:
        with self._lock:
            if self._done:
                return
            if cut:
                self.cut = True
            else:
                self.expired = True
            if not self._shut_locked():     # nothing to shut yet (resolving, connecting): look again soon
                self._arm(RECHECK_SECONDS)

    def _shut_locked(self) -> bool:
        """Shut every socket of the attempt; False when some connection has none yet (or none was made)."""
        all_shut = bool(self._connections)
        for connection in self._connections:
            sock = getattr(connection, "sock", None)
            if sock is None:
                all_shut = False
                continue
            with contextlib.suppress(OSError):
                # The plain socket's shutdown, also under TLS: the reading thread's recv returns at once.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return all_shut

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(max(seconds, 0.0), self._end)
        self._timer.daemon = True
        self._timer.start()

    def _finish(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


class InFlight:
    """This process's attempts in flight."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: set[Attempt] = set()
        self._stopping = False

    @contextlib.contextmanager
    def attempt(self, seconds: float) -> Iterator[Attempt]:
        """Run one attempt on this thread, its connections shut after `seconds` (or at a stop)."""
        attempt = Attempt(seconds)
        with self._lock:
            self._attempts.add(attempt)
            stopping = self._stopping
        _here.attempt = attempt
        if stopping:
            attempt._end(cut=True)
        else:
            attempt._arm(seconds)
        try:
            yield attempt
        finally:
            _here.attempt = None
            attempt._finish()
            with self._lock:
                self._attempts.discard(attempt)

    def cut_all(self) -> int:
        """The consumer stops: end every attempt now (and any that starts from here on). How many."""
        with self._lock:
            self._stopping = True
            attempts = list(self._attempts)
        for attempt in attempts:
            attempt._end(cut=True)
        return len(attempts)


def track_connections(session: requests.Session) -> requests.Session:
    """Make the session's pools report each connection they hand out to the attempt on that thread."""
    for adapter in session.adapters.values():
        adapter.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TlsPool}
    return session


class _Reporting:
    def _get_conn(self, timeout=None):
        connection = super()._get_conn(timeout)
        attempt = getattr(_here, "attempt", None)
        if attempt is not None:
            attempt._track(connection)
        return connection


class _Pool(_Reporting, HTTPConnectionPool):
    pass


class _TlsPool(_Reporting, HTTPSConnectionPool):
    pass


class HostSlots:
    """How many attempts may run at once per receiver host in this process: a host whose receivers are
    slow, down or hostile takes at most its share of the consumer's threads, never all of them. An
    event whose host is full waits longer each time it finds it so (2 s, 4 s... 30 s), so a thousand
    events for one dead host cost a few store writes a second, not a busy loop."""

    FIRST_WAIT, LONGEST_WAIT = 2.0, 30.0

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 1)
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}
        self._waits: dict[str, int] = {}        # event id -> times it found its host full

    def take(self, host: str, event_id: str = "") -> bool:
        with self._lock:
            if self._busy.get(host, 0) >= self.limit:
                return False
            self._busy[host] = self._busy.get(host, 0) + 1
            self._waits.pop(event_id, None)
            return True

    def wait_for(self, event_id: str) -> float:
        """Seconds until the event (whose host was full) is looked at again, with jitter."""
        with self._lock:
            times = self._waits[event_id] = self._waits.get(event_id, 0) + 1
        return min(self.FIRST_WAIT * 2 ** (times - 1), self.LONGEST_WAIT) * random.uniform(0.8, 1.2)

    def give(self, host: str) -> None:
        with self._lock:
            left = self._busy.get(host, 0) - 1
            if left > 0:
                self._busy[host] = left
            else:
                self._busy.pop(host, None)
