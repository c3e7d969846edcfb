"""The upstream deadline watch: one watchdog thread cuts calls that overrun, and only those."""
from __future__ import annotations

import socket
import threading
import time

from app.net.deadline import Watch


class FakeSocket:
    def __init__(self) -> None:
        self.shut = threading.Event()

    def shutdown(self, how: int) -> None:
        assert how == socket.SHUT_RDWR
        self.shut.set()


class FakeConn:
    def __init__(self) -> None:
        self.sock = FakeSocket()


def test_an_overrunning_call_has_its_connection_cut():
    conn = FakeConn()
    with Watch(0.01) as watch:
        watch.attach(conn)
        assert conn.sock.shut.wait(10), "the watchdog never fired"
    assert watch.fired


def test_many_watches_fire_in_deadline_order_with_one_thread():
    conns = [FakeConn() for _ in range(50)]
    watches = [Watch(0.02 + i * 0.001).__enter__() for i in range(50)]
    for w, c in zip(watches, conns):
        w.attach(c)
    assert all(c.sock.shut.wait(10) for c in conns)
    for w in reversed(watches):
        w.__exit__(None, None, None)
    assert sum(t.name == "upstream-watchdog" for t in threading.enumerate()) == 1


def test_a_call_that_ended_in_time_keeps_its_connection():
    # Its connection went back to the pool and may serve the next call: the watchdog must leave it alone.
    kept = FakeConn()
    with Watch(0.05) as watch:
        watch.attach(kept)
    later = FakeConn()
    with Watch(0.2) as marker:          # due after the first one: once it fires, the first was handled
        marker.attach(later)
        assert later.sock.shut.wait(10)
    assert not kept.sock.shut.is_set() and not watch.fired
