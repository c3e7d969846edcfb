"""Debian's nginx in front of a running stack, with deploy/nginx.conf rendered as a deployment would.

nginx runs from a temporary prefix (its pid, logs and temp files there), on a free loopback port,
in the foreground in its own process group; only that group is ever signalled.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.render_nginx import render, values
from sandbox.stack import HOST, free_ports

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# What a distribution's nginx.conf gives around conf.d/: here everything lives under the prefix.
MAIN_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 2048; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/jimeng-api.conf;
}}
"""


@contextlib.contextmanager
def running_nginx(upstream: str, *, max_upload_mb: int, wait_timeout: int, submit_rate: str = "60r/m",
                  read_timeout: int | None = None, startup_timeout: float = 15.0) -> Iterator[str]:
    """nginx proxying to `upstream` (host:port); yields its base URL.

    `read_timeout` (seconds) replaces the rendered proxy_read_timeout, to make nginx give up first.
    """
    prefix = Path(tempfile.mkdtemp(prefix="jimeng-nginx-"))
    prefix.chmod(0o755)   # nginx's workers run as an unprivileged user when we are root
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / sub).mkdir()
        (prefix / sub).chmod(0o777)
    (port,) = free_ports(1)
    filled = values(listen=f"{HOST}:{port}", upstream=upstream, max_upload_mb=max_upload_mb,
                    wait_timeout=wait_timeout, submit_rate=submit_rate)
    if read_timeout is not None:
        filled["JIMENG_READ_TIMEOUT"] = str(read_timeout)
    site = render(filled)
    (prefix / "jimeng-api.conf").write_text(site)
    (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix))
    log = (prefix / "stdout.log").open("wb")
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ok = False
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited with {proc.returncode}: {_tail(prefix)}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen within {startup_timeout:g} s: {_tail(prefix)}")
            time.sleep(0.05)
        yield f"http://{HOST}:{port}"
        ok = True
    finally:
        for sig in (signal.SIGQUIT, signal.SIGKILL):   # SIGQUIT: graceful; then make sure
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        log.close()
        if ok:
            shutil.rmtree(prefix, ignore_errors=True)
        else:
            print(f"nginx files kept in {prefix}")


def _tail(prefix: Path) -> str:
    texts = [p.read_text(errors="replace")[-2000:] for p in (prefix / "error.log", prefix / "stdout.log") if p.exists()]
    return "\n".join(texts) or "(no log)"
