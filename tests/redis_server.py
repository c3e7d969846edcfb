"""A real redis-server (Debian's package) on a free loopback port, for as long as a test needs it."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis

from sandbox.stack import HOST, free_ports

STARTUP_TIMEOUT = 15.0


def redis_server_binary() -> str:
    found = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin:/bin")
    if found is None:
        raise RuntimeError("redis-server is not installed: run `make system-deps`")
    return found


@contextlib.contextmanager
def running_redis() -> Iterator[str]:
    """Start redis-server (no persistence, loopback only) and yield its URL; stop exactly it on exit."""
    port = free_ports(1)[0]
    workdir = tempfile.mkdtemp(prefix="jimeng-redis-")
    proc = subprocess.Popen([redis_server_binary(), "--port", str(port), "--bind", HOST, "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://{HOST}:{port}/0"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
