"""The host's shared state (SQLite under DATA_DIR): atomic across processes, timed on the app's clock,
and a 503 (never a 500) when the store cannot be used."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import stat
import time

import pytest

from app.state import sqlite as sqlite_state
from app.errors import StateUnavailable
from app.state.sqlite import SqliteState

PROCESSES = 3


def _race(data_dir: str, index: int, rounds: int, out) -> None:
    """One worker process: put_new on one key, slots under a limit of 3, and counts."""
    state = SqliteState(data_dir)
    won = [r for r in range(rounds) if state.put_new(f"race:{r}", f"p{index}", 60) is None]
    slots = [r for r in range(rounds) if state.take_slot("busy", f"p{index}-{r}", 3, 2e9, 1e9)]
    counts = [state.count("hits", 60) for _ in range(rounds)]
    out.put((index, won, slots, counts))


def _in_processes(data_dir, rounds: int, start_method: str = "spawn") -> list:
    ctx = multiprocessing.get_context(start_method)
    out = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(data_dir), i, rounds, out)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    return results


def test_every_operation_is_atomic_across_worker_processes(data_dir):
    rounds = 200
    results = _in_processes(data_dir, rounds)
    state = SqliteState(str(data_dir))
    winners = sorted(r for _, won, _, _ in results for r in won)
    assert winners == list(range(rounds))                         # each key: exactly one process won it
    assert all(state.get(f"race:{r}") == f"p{i}" for i, won, _, _ in results for r in won)
    assert sum(len(slots) for _, _, slots, _ in results) == 3      # never past the limit, from any process
    counts = sorted(c for _, _, _, counts in results for c in counts)
    assert counts == list(range(1, PROCESSES * rounds + 1))         # no increment lost, none seen twice


def test_a_forked_worker_opens_its_own_connection(data_dir):
    """gunicorn forks workers; a connection made before the fork must not be shared after it."""
    state = SqliteState(str(data_dir))
    state.put("before-fork", "x", 60)
    # gunicorn's master forks with no thread of SQLite running; a write here started the WAL checkpoint on
    # a thread of its own, and a fork while it holds SQLite's locks would leave them held in the child.
    deadline = time.monotonic() + 10
    while state._checkpointing and time.monotonic() < deadline:
        time.sleep(0.01)
    results = _in_processes(data_dir, 20, start_method="fork")
    assert sum(len(won) for _, won, _, _ in results) == 20


def test_values_expire_on_the_apps_clock(clock, data_dir):
    state = SqliteState(str(data_dir), clock)
    state.put("k", "v", 10)
    assert state.put_new("claim", "first", 10) is None
    clock.advance(9)
    assert state.get("k") == "v" and state.put_new("claim", "second", 10) == "first"
    clock.advance(2)
    assert state.get("k") is None and state.get_many(["k"]) == {}
    assert state.put_new("claim", "second", 10) is None          # an expired value is free again
    assert [state.count("c", 5) for _ in range(2)] == [1, 2]
    clock.advance(6)
    assert state.count("c", 5) == 1                               # a new window


def test_expired_rows_are_deleted_now_and_then(clock, data_dir):
    state = SqliteState(str(data_dir), clock)
    state.put_many([(f"old:{i}", "x", 1) for i in range(50)])
    clock.advance(sqlite_state.PURGE_EVERY_SECONDS + 1)
    state.put("new", "y", 60)
    rows = sqlite3.connect(state.path).execute("SELECT key FROM kv").fetchall()
    assert rows == [("new",)]


def test_data_dir_is_created_private(tmp_path):
    old = os.umask(0o022)
    try:
        state = SqliteState(str(tmp_path / "nested" / "data"))
        state.check()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "nested" / "data").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state.path).st_mode) == 0o600


def test_a_data_dir_that_cannot_be_made_is_a_503_and_comes_back_once_fixed(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where DATA_DIR's parent should be")
    state = SqliteState(str(blocker / "data"))
    with pytest.raises(StateUnavailable) as err:
        state.put_new("k", "v", 60)
    assert err.value.http_status == 503 and err.value.retry_after
    blocker.unlink()
    assert state.put_new("k", "v", 60) is None and state.get("k") == "v"


def test_a_file_that_is_not_a_database_is_a_503(data_dir, caplog):
    data_dir.mkdir(mode=0o700)
    (data_dir / sqlite_state.FILE_NAME).write_bytes(b"this is not an SQLite database, and it is long enough" * 40)
    state = SqliteState(str(data_dir))
    for _ in range(2):
        with pytest.raises(StateUnavailable):
            state.get("k")
    assert caplog.text.count("shared state unusable") == 1           # said once, not per request
    assert str(state.path) in caplog.text or "not a database" in caplog.text


def test_a_write_waits_for_another_process_then_gives_up_with_a_503(data_dir, monkeypatch):
    state = SqliteState(str(data_dir))
    state.put("k", "v", 60)
    other = sqlite3.connect(state.path, isolation_level=None)      # another worker, holding the write lock
    other.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(sqlite_state, "LOCK_WAIT_SECONDS", 0.05)
    with pytest.raises(StateUnavailable):
        state.put("k", "w", 60)
    assert state.get("k") == "v"                                   # readers are never blocked (WAL)
    other.execute("COMMIT")
    state.put("k", "w", 60)
    assert state.get("k") == "w"


def test_a_write_lock_released_within_the_wait_is_waited_for(data_dir):
    import threading

    state = SqliteState(str(data_dir))
    state.check()
    other = sqlite3.connect(state.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.05, lambda: other.execute("COMMIT")).start()
    assert state.put_new("k", "v", 60) is None


def test_the_checkpoint_runs_on_a_native_thread_under_gevent(data_dir):
    """Copying the WAL into the file syncs the disk (milliseconds): under gevent it must run on an OS
    thread of its own, never in the worker's one thread that every request shares."""
    import subprocess
    import sys
    import textwrap

    from sandbox.stack import ROOT

    script = textwrap.dedent("""
        from gevent import monkey
        monkey.patch_all()
        import sys, threading, time
        from app.state import sqlite as sqlite_state
        sqlite_state.CHECKPOINT_EVERY_SECONDS = 0
        state = sqlite_state.SqliteState(sys.argv[1])
        ran_on = []
        checkpoint = state._checkpoint
        state._checkpoint = lambda: (ran_on.append(threading.get_native_id()), checkpoint())
        for i in range(50):
            state.put(f"k{i}", "v" * 100, 60)
            time.sleep(0.001)
        deadline = time.monotonic() + 10
        while state._checkpointing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ran_on, "no checkpoint ran"
        assert threading.get_native_id() not in ran_on, ran_on
        print("ok", len(ran_on))
    """)
    done = subprocess.run([sys.executable, "-c", script, str(data_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stdout + done.stderr
