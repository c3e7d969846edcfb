"""The webhook store seen from a request: whether it can record a webhook now, and the waits for its
file lock, kept out of SQLite's C code.

Under gunicorn's gevent workers a call into SQLite holds the whole worker process: no greenlet runs
while C code waits, and huey's own connection waits up to 5 s for a lock in there (a backup, the
sqlite3 shell, a stuck process holding webhooks.db froze every request of the worker for 5 s). So in
a gevent worker the engine's connection never waits inside SQLite (busy timeout 0); a call that
finds the file locked sleeps outside it (a greenlet switch) and tries again until its deadline, as
the shared state does (app/state/sqlite.py). Other processes (the consumer, gthread workers) keep
huey's wait: a native thread waiting in C holds only itself.
"""
from __future__ import annotations

import sqlite3
import sys

from app.state.sqlite import is_busy, patiently  # noqa: F401  (patiently: the engine waits through here)

# A submit asking for a webhook checks the store can record it before anything is sent; /healthz asks
# the same. This long, the check waits for another process's write.
CHECK_WAIT_SECONDS = 1.0
# Recording the watch of a task Jimeng accepted (and charged): worth a longer wait.
RECORD_WAIT_SECONDS = 5.0
HUEY_BUSY_TIMEOUT = 5.0     # huey's default, kept where waiting in C holds one thread only


def cooperative() -> bool:
    """Whether this process runs greenlets (gevent's monkey patching): then no wait may happen in C."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("threading"))


def busy_timeout() -> float:
    """The SQLite busy timeout of the engine's connection in this process."""
    return 0.0 if cooperative() else HUEY_BUSY_TIMEOUT


def check_writable(path: str) -> None:
    """Take the file's write lock for a moment and read a table of ours, on a connection of its own
    that never waits (busy is raised at once, for `patiently`); never creates the file."""
    db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("SELECT 1 FROM webhook_watch LIMIT 1").fetchall()
        finally:
            db.execute("ROLLBACK")
    finally:
        db.close()
