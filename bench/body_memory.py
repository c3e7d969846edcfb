"""Peak memory of a gunicorn worker while 5 clients each send a 132 MB JSON body with a data URI.

`python -m bench.body_memory`: data URIs in JSON are decoded to disk as the body streams, so the
worker's peak RSS (VmHWM) should stay far below the bodies' size (the old reader took ~4x a body).
The bodies end in an invalid ratio, so each is refused with a 400 once read: what is measured is
reading the body, not uploading it.
"""
from __future__ import annotations

import base64
import concurrent.futures
import os
import time
from pathlib import Path

import requests

from sandbox.stack import running_stack

CLIENTS = 5
DECODED_BYTES = 99 * 1024 * 1024


def body_chunks():
    """The body as a generator (sent chunked): the client never holds it whole either."""
    head = b'{"prompt": "x", "ratio": "7:5", "file_paths": ["data:image/png;base64,'
    block = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 256 * 1024 - 8))
    rest = base64.b64encode(b"\0" * (3 * 256 * 1024))
    yield head
    yield block
    for _ in range(DECODED_BYTES // (3 * 256 * 1024) - 1):
        yield rest
    yield b'"]}'


def gunicorn_pids(port: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"gunicorn" in cmd and f"127.0.0.1:{port}".encode() in cmd:
                pids.append(int(entry.name))
    return pids


def kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    with running_stack(service_env={"GUNICORN_THREADS": "8", "LOG_LEVEL": "WARNING"}) as stack:
        port = int(stack.service_url.rsplit(":", 1)[1])
        pids = gunicorn_pids(port)
        before = {pid: kb(pid, "VmRSS") for pid in pids}

        def send(_):
            resp = requests.post(f"{stack.service_url}/v1/videos/generations", data=body_chunks(),
                                 headers={"Authorization": "Bearer bench", "Content-Type": "application/json"},
                                 timeout=300)
            return resp.status_code, (resp.json().get("error") or {}).get("param")

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            statuses = list(pool.map(send, range(CLIENTS)))
        elapsed = time.monotonic() - started
        body_mb = (DECODED_BYTES * 4 / 3) / 1e6
        print(f"{CLIENTS} concurrent JSON bodies of {body_mb:.0f} MB each: statuses {statuses}, {elapsed:.1f} s")
        for pid in pids:
            print(f"  pid {pid}: RSS before {before[pid] / 1024:.0f} MB, peak (VmHWM) {kb(pid, 'VmHWM') / 1024:.0f} MB")


if __name__ == "__main__":
    os.environ.setdefault("APP_ENV", "development")
    main()
