"""The worker's client socket and connection room (app/serving/gevent_worker.py), over real socket pairs.

The timers are kernel socket timeouts, so these tests run them for real, at a few tenths of a
second; the deadline arithmetic they rely on is checked with a hand-moved clock where it can be.
gunicorn and gevent are not involved here: the e2e tests (tests/e2e/test_connections.py) run the
worker under gunicorn.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from app.serving.gevent_worker import BodyTooSlow, ClientSocket, Connections, Timers

SHORT = Timers(keepalive=0.3, header=0.3, body=0.3, body_min_rate=100, send=0.3)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def served_once(conn: ClientSocket) -> ClientSocket:
    """As the worker leaves a connection after one answered request: waiting for the next one."""
    conn.request_started()
    conn.awaiting_request()
    return conn


def test_an_idle_kept_alive_connection_ends_quietly_after_keepalive(pair):
    ours, _ = pair
    conn = served_once(ClientSocket(ours, SHORT))
    started = time.monotonic()
    assert conn.recv(8192) == b""          # gunicorn's parser reads this as the client closing
    assert 0.25 <= time.monotonic() - started < 2


def test_a_new_connection_has_header_timeout_from_its_accept_for_its_whole_head(pair):
    ours, theirs = pair
    conn = ClientSocket(ours, SHORT)
    theirs.sendall(b"GET /ping HTTP/1.1\r\n")          # and then nothing more
    assert conn.recv(8192) == b"GET /ping HTTP/1.1\r\n"
    started = time.monotonic()
    assert conn.recv(8192) == b""
    assert time.monotonic() - started < 1


def test_a_head_trickling_in_is_cut_at_header_timeout_from_its_first_byte(pair):
    ours, theirs = pair
    conn = served_once(ClientSocket(ours, Timers(keepalive=5, header=0.4)))

    def trickle():
        for byte in b"GET /ping HTTP/1.1\r\nHost: x\r\n":
            try:
                theirs.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.05)

    threading.Thread(target=trickle, daemon=True).start()
    got, started = b"", time.monotonic()
    while chunk := conn.recv(8192):
        got += chunk
    assert 0.3 <= time.monotonic() - started < 2
    assert got and not got.endswith(b"\r\n\r\n")


def test_a_body_below_the_minimum_rate_is_cut_with_a_408(pair):
    ours, theirs = pair
    conn = ClientSocket(ours, SHORT)
    conn.request_started()
    stop = threading.Event()

    def trickle():           # one byte every 0.1 s: 10 B/s against a minimum of 100
        while not stop.is_set():
            try:
                theirs.send(b"x")
            except OSError:
                return
            time.sleep(0.1)

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(BodyTooSlow) as info:
            while conn.recv(8192):
                pass
    finally:
        stop.set()
    assert info.value.code == 408
    assert time.monotonic() - started < 2                # 0.3 s plus 10 ms per byte received
    assert conn.recv(8192) == b""                        # the rest of the body is never read


def test_a_body_above_the_minimum_rate_is_read_however_long_it_takes(pair):
    ours, theirs = pair
    conn = ClientSocket(ours, SHORT)
    conn.request_started()

    def steady():            # 30 bytes every 0.06 s for 0.6 s: 500 B/s, twice BODY_TIMEOUT
        for _ in range(10):
            theirs.sendall(b"y" * 30)
            time.sleep(0.06)
        theirs.shutdown(socket.SHUT_WR)

    threading.Thread(target=steady, daemon=True).start()
    got = b""
    while chunk := conn.recv(8192):
        got += chunk
    assert got == b"y" * 300


def test_time_the_app_spends_between_reads_does_not_count_against_the_body(pair):
    ours, theirs = pair
    clock = Clock()
    conn = ClientSocket(ours, SHORT, clock=clock)
    conn.request_started()
    theirs.sendall(b"a")
    assert conn.recv(1) == b"a"
    clock.now += 3600                                    # the app works for an hour (e.g. an upload)
    theirs.sendall(b"b")
    assert conn.recv(1) == b"b"


def test_an_answer_the_client_does_not_read_ends_the_connection_after_send_timeout(pair):
    ours, theirs = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn = ClientSocket(ours, SHORT)
    started = time.monotonic()
    with pytest.raises(BrokenPipeError):
        conn.sendall(b"z" * (4 * 1024 * 1024))
    assert time.monotonic() - started < 2


def test_an_answer_read_slowly_but_steadily_is_sent_whole(pair):
    ours, theirs = pair
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    size = 300 * 1024
    received = []

    def reader():            # 30 KB every 0.06 s: the whole answer takes longer than SEND_TIMEOUT
        total = 0
        while total < size:
            chunk = theirs.recv(30 * 1024)
            if not chunk:
                return
            total += len(chunk)
            received.append(len(chunk))
            time.sleep(0.06)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    started = time.monotonic()
    ClientSocket(ours, SHORT).sendall(b"w" * size)
    thread.join(10)
    assert sum(received) == size
    assert time.monotonic() - started > SHORT.send


def idle_connections(count: int, room: Connections) -> list[tuple[ClientSocket, socket.socket]]:
    made = []
    for i in range(count):
        ours, theirs = socket.socketpair()
        conn = ClientSocket(ours, SHORT, room)
        conn.idle_since = float(i)          # the first made has been idle the longest
        conn.waiting = True                 # parked in a read, between requests
        room.opened(conn)
        made.append((conn, theirs))
    return made


def test_near_the_limit_the_connections_idle_the_longest_are_closed_first():
    room = Connections(limit=20)            # 2 kept spare
    made = idle_connections(16, room)
    busy_ours, busy_theirs = socket.socketpair()
    busy = ClientSocket(busy_ours, SHORT, room)
    busy.idle_since = -1.0                  # the oldest, but serving a request: never closed for room
    room.opened(busy)
    assert not any(conn.closing for conn, _ in made)     # 17 open: under 20 - 2

    ours, _ = socket.socketpair()
    closed = room.opened(ClientSocket(ours, SHORT, room))      # the 18th: 90% of the limit

    assert closed == 2
    assert [conn.closing for conn, _ in made] == [True, True] + [False] * 14
    assert made[0][1].recv(10) == b""       # the client sees the connection close
    assert not busy.closing


def test_a_stop_closes_idle_connections_and_those_that_become_idle_after(pair):
    room = Connections(limit=100)
    (parked, parked_peer), = idle_connections(1, room)
    ours, _ = pair
    later = ClientSocket(ours, Timers(keepalive=30), room)
    later.request_started()                 # serving a request when the stop begins

    room.stop_in(0.0)
    room.close_all_idle()

    assert parked_peer.recv(10) == b""
    later.awaiting_request()
    started = time.monotonic()
    assert later.recv(8192) == b""          # no wait for keepalive
    assert time.monotonic() - started < 0.1
