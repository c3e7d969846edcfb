"""The shared state of one host's workers: an SQLite file under `DATA_DIR`, no server to run.

Why SQLite from the standard library, and not diskcache (which also keeps its data in SQLite):
each operation of the SharedState protocol is one short statement or one `BEGIN IMMEDIATE`
transaction here, while diskcache would need its `transact()` around several of its own calls
for take_slot, drop-if-mine or a counter in a window, and it reads `time.time()` itself where the
tests move a clock. Measured on the same 2 shared cores, 3 processes writing flat out: diskcache
5.6.3's writes took 67-109 us at the median and 9-21 ms at p99 (its commits checkpoint and sync
in the caller), and one of its calls gave up after its 1 s lock timeout; this store's took 35-60 us
at the median, reads about 17 us (`python -m bench.bench_state`; README, Benchmarks).

gevent: a call into SQLite holds the whole worker process (no greenlet runs while C code does), so
every call is one of those microsecond statements and no transaction is ever open across a
yield. A commit only appends to the WAL (synchronous=NORMAL: no fsync); the checkpoint that copies
the WAL into the file and syncs it (milliseconds on a virtual disk: it made the p99 5-8 ms with 3
processes) runs about once a second on a native thread, off the request path. What remains of the
tail (p99 about 1-3 ms with 3 processes writing flat out, 0.17 ms with one) is the sync of the WAL's
header when it starts over after a checkpoint, and the other processes' syncs: synchronous=OFF
would save it, and could leave a damaged file after a power cut, so it stays NORMAL.

The file lock is never waited for inside SQLite (busy timeout 0): a writer that finds it taken gets
"busy" at once, and this module sleeps outside any transaction (a greenlet switch under gevent)
and tries again, for up to LOCK_WAIT_SECONDS. WAL: readers never wait for the writer.

An unusable store (DATA_DIR not writable, a file that is not a database, a lock held past the
wait) raises StateUnavailable (503 with Retry-After), never a 500; the next call tries again.
"""
from __future__ import annotations

import _thread
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from app.errors import StateUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

FILE_NAME = "state.sqlite3"
LOCK_WAIT_SECONDS = 1.0        # how long an operation waits for another process's write
PURGE_EVERY_SECONDS = 60.0     # expired rows are deleted this often (per process), at most PURGE_ROWS a time
PURGE_ROWS = 1000
CHECKPOINT_EVERY_SECONDS = 1.0    # the WAL is copied into the file this often, on a thread of its own
BACKSTOP_CHECKPOINT_PAGES = 10000  # should that thread fall behind, a commit checkpoints (about 40 MB of WAL)
_MESSAGE = "the service's shared state (its SQLite file under DATA_DIR) cannot be used; retry later"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_expires ON kv (expires);
CREATE TABLE IF NOT EXISTS slots (grp TEXT NOT NULL, member TEXT NOT NULL, expires REAL NOT NULL,
                                  PRIMARY KEY (grp, member)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS slots_expires ON slots (expires);
"""
_UPSERT = ("INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires")


def prepare_data_dir(path: str) -> Path:
    """DATA_DIR, created if missing with mode 0700 (it holds what clients' keys and accounts did)."""
    folder = Path(path)
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)     # mkdir's mode passes through the umask
    return folder


class SqliteState:
    """Every worker of this host (processes, greenlets, threads) sees the same values, slots and counts."""

    def __init__(self, data_dir: str, clock: Callable[[], float] | None = None) -> None:
        self._dir = data_dir
        self._clock = clock or time.time
        self._lock = threading.Lock()          # one connection per process; threads take turns
        self._db: sqlite3.Connection | None = None
        self._pid = 0
        self._next_purge = 0.0
        self._failing = False
        self._next_checkpoint = 0.0
        self._checkpointing = False

    @property
    def path(self) -> Path:
        return Path(self._dir) / FILE_NAME

    # -- the protocol ----------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        row = self._run(lambda db: db.execute("SELECT value FROM kv WHERE key = ? AND expires > ?",
                                              (key, self._clock())).fetchone())
        return row[0] if row else None

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        rows = self._run(lambda db: db.execute(f"SELECT key, value FROM kv WHERE key IN ({marks}) AND expires > ?",
                                               (*keys, self._clock())).fetchall())
        return dict(rows)

    def put(self, key: str, value: str, ttl: float) -> None:
        self._run(lambda db: db.execute(_UPSERT, (key, value, self._clock() + ttl)), write=True)

    def put_many(self, items: Iterable[tuple[str, str, float]]) -> None:
        now = self._clock()
        rows = [(key, value, now + ttl) for key, value, ttl in items]
        if rows:
            self._run(lambda db: db.executemany(_UPSERT, rows), write=True, transaction=True)

    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        def put_new(db: sqlite3.Connection) -> str | None:
            now = self._clock()
            held = db.execute("SELECT value FROM kv WHERE key = ? AND expires > ?", (key, now)).fetchone()
            if held:
                return held[0]
            db.execute(_UPSERT, (key, value, now + ttl))
            return None
        return self._run(put_new, write=True, transaction=True)

    def drop(self, key: str, value: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM kv WHERE key = ? AND value = ?", (key, value)), write=True)

    def count(self, key: str, window: float) -> int:
        def count(db: sqlite3.Connection) -> int:
            now = self._clock()
            row = db.execute("SELECT value, expires FROM kv WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                value, expires = 1, now + window
            else:
                value, expires = int(row[0]) + 1, row[1]
            db.execute(_UPSERT, (key, str(value), expires))
            return value
        return self._run(count, write=True, transaction=True)

    def take_slot(self, group: str, member: str, limit: int, expires_at: float, now: float) -> bool:
        def take(db: sqlite3.Connection) -> bool:
            db.execute("DELETE FROM slots WHERE grp = ? AND expires <= ?", (group, now))
            taken, mine = db.execute("SELECT count(*), count(member = ? OR NULL) FROM slots WHERE grp = ?",
                                     (member, group)).fetchone()
            if not mine and taken >= limit:
                return False
            db.execute("INSERT INTO slots (grp, member, expires) VALUES (?, ?, ?) "
                       "ON CONFLICT (grp, member) DO UPDATE SET expires = excluded.expires", (group, member, expires_at))
            return True
        return self._run(take, write=True, transaction=True)

    def rename_slot(self, group: str, old: str, new: str, expires_at: float) -> None:
        def rename(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM slots WHERE grp = ? AND member = ?", (group, old))
            db.execute("INSERT OR REPLACE INTO slots (grp, member, expires) VALUES (?, ?, ?)", (group, new, expires_at))
        self._run(rename, write=True, transaction=True)

    def drop_slot(self, group: str, member: str) -> None:
        self._run(lambda db: db.execute("DELETE FROM slots WHERE grp = ? AND member = ?", (group, member)),
                  write=True)

    def slots(self, group: str, now: float) -> list[str]:
        rows = self._run(lambda db: db.execute("SELECT member FROM slots WHERE grp = ? AND expires > ?",
                                               (group, now)).fetchall())
        return [member for (member,) in rows]

    def check(self) -> None:
        """Open the store and take its write lock for a moment (an empty transaction): at start, so a
        problem shows in the log before the first request, and for /healthz."""
        self._run(lambda db: None, write=True, transaction=True)

    # -- one connection per process, short transactions, waits outside them -----------------------
    def _run(self, operation: Callable[[sqlite3.Connection], T], *, write: bool = False,
             transaction: bool = False) -> T:
        def attempt() -> T:
            with self._lock:
                return self._attempt(operation, write, transaction)
        try:
            # Waits happen between attempts, outside any transaction and the lock: under gevent, other
            # requests run meanwhile.
            result = patiently(attempt, LOCK_WAIT_SECONDS, first_pause=0.0005, longest_pause=0.02)
        except (sqlite3.Error, OSError) as exc:
            raise self._unusable(exc) from None
        if self._failing:
            self._failing = False
            log.info("shared state usable again", extra={"path": str(self.path)})
        return result

    def _attempt(self, operation: Callable[[sqlite3.Connection], T], write: bool, transaction: bool) -> T:
        db = self._connection()
        if write:
            self._purge_now_and_then(db)
            self._checkpoint_now_and_then()
        if not transaction:
            return operation(db)
        db.execute("BEGIN IMMEDIATE")
        try:
            result = operation(db)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return result

    def _connection(self) -> sqlite3.Connection:
        """This process's connection (a connection never crosses a fork)."""
        if self._db is not None and self._pid == os.getpid():
            return self._db
        self._db, self._checkpointing = None, False
        prepare_data_dir(self._dir)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))   # SQLite gives -wal and -shm its mode
        db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")        # WAL + NORMAL: no fsync per commit, never corrupt
            db.execute("PRAGMA journal_size_limit = 4194304")
            db.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
            if not db.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'slots'").fetchone()[0]:
                db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        self._db, self._pid = db, os.getpid()
        return db

    def _purge_now_and_then(self, db: sqlite3.Connection) -> None:
        """Expired rows are never read; they are deleted in small bites so the file stays small."""
        now = self._clock()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_EVERY_SECONDS
        db.execute("DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires <= ? LIMIT ?)", (now, PURGE_ROWS))
        db.execute("DELETE FROM slots WHERE (grp, member) IN (SELECT grp, member FROM slots WHERE expires <= ? "
                   "LIMIT ?)", (now, PURGE_ROWS))

    def _checkpoint_now_and_then(self) -> None:
        now = time.monotonic()
        if self._checkpointing or now < self._next_checkpoint:
            return
        self._next_checkpoint, self._checkpointing = now + CHECKPOINT_EVERY_SECONDS, True
        try:
            _native_thread(self._checkpoint)
        except RuntimeError:          # no thread to be had: the backstop checkpoints instead
            self._checkpointing = False

    def _checkpoint(self) -> None:
        """On a native thread (SQLite lets go of the GIL meanwhile): its own connection, nothing shared
        with the requests' one. Busy (another process checkpoints) or unusable: the next one tries."""
        try:
            db = sqlite3.connect(self.path, timeout=0, isolation_level=None)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()
        except sqlite3.Error:
            pass
        finally:
            self._checkpointing = False

    def _unusable(self, exc: BaseException) -> StateUnavailable:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None            # the next call opens it again: a fixed DATA_DIR comes back by itself
        if not self._failing:
            self._failing = True
            log.warning("shared state unusable: %s (%s)", exc, type(exc).__name__, extra={"path": str(self.path)})
        return StateUnavailable(_MESSAGE)


def _native_thread(target: Callable[[], None]) -> None:
    """An OS thread even under gevent's monkey patching (a greenlet would hold the worker during the sync)."""
    monkey = sys.modules.get("gevent.monkey")
    start = (monkey.get_original("_thread", "start_new_thread") if monkey and monkey.is_module_patched("threading")
             else _thread.start_new_thread)
    start(target, ())


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock; nothing was changed."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def patiently(operation: Callable[[], T], wait: float, *, first_pause: float = 0.001,
              longest_pause: float = 0.05) -> T:
    """`operation`, tried again while SQLite says the file is locked (busy), for up to `wait` seconds;
    the sleeps between tries (doubling from `first_pause`) are outside SQLite. Any other error, or busy
    past the wait, is raised."""
    deadline = time.monotonic() + wait
    pause = first_pause
    while True:
        try:
            return operation()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + pause >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, longest_pause)
