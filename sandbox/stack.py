"""Run the whole stack on loopback: the sandbox (fake Jimeng) and the service under gunicorn.

Used by `make demo`, the e2e tests and the bench:

    with running_stack(sandbox_env={"SANDBOX_LATENCY_MS": "20"}) as stack:
        requests.get(stack.service_url + "/ping")

Each child runs in its own process group, so stopping it stops gunicorn's workers too, and only
the processes started here are ever signalled. Logs go to files in a temporary directory, named
on failure; they are removed after a clean run unless `keep_logs` is set.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
STARTUP_TIMEOUT = 30.0   # seconds for both processes to answer; gunicorn imports the app first
STOP_TIMEOUT = 10.0      # seconds after SIGTERM before SIGKILL; gunicorn's graceful stop fits
LOG_TAIL_LINES = 30


class StackError(RuntimeError):
    """The stack could not start (a process died or never answered); the message has its log tail."""


@dataclass(frozen=True)
class Stack:
    service_url: str
    sandbox_url: str
    log_dir: Path
    service_pid: int = 0     # the gunicorn master; its children are the workers


@dataclass
class _Child:
    """One started process: its own process group (pgid == pid), its log and its health URL."""

    name: str
    proc: subprocess.Popen
    log_path: Path
    health_url: str

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def stop(self) -> None:
        """SIGTERM the child's process group, then SIGKILL it if it does not exit in time."""
        try:
            self._signal_and_wait(signal.SIGTERM)
        finally:  # also when a second Ctrl-C cuts the graceful wait short
            self._signal_and_wait(signal.SIGKILL)

    def _signal_and_wait(self, sig: signal.Signals) -> None:
        if self.proc.poll() is not None:
            return
        # The leader is alive (not yet reaped), so its pid still names our group and no other.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=STOP_TIMEOUT)


def require_free_port(port: int, setting: str, host: str = HOST) -> None:
    """Exit with a sentence naming the setting to change when `port` is taken (not a retry loop)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            sys.exit(f"port {port} on {host} is already in use: stop what listens there, or choose "
                     f"another with {setting}=<port> (e.g. make ... {setting}={port + 1})")


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports the kernel says are free right now."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for s in socks:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in socks]


def _start(name: str, argv: list[str], env: dict[str, str], log_dir: Path, health_url: str) -> _Child:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return _Child(name, proc, log_path, health_url)


def _wait_until_answering(children: list[_Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(children)
    while waiting:
        for child in list(waiting):
            if child.proc.poll() is not None:
                raise StackError(f"{child.name} exited with code {child.proc.returncode} while starting; "
                                 f"last lines of {child.log_path}:\n{child.log_tail()}")
            try:
                if requests.get(child.health_url, timeout=1.0).status_code < 500:
                    waiting.remove(child)
            except requests.RequestException:
                pass
        if waiting and time.monotonic() > deadline:
            child = waiting[0]
            raise StackError(f"{child.name} did not answer {child.health_url} within {timeout:g} s; "
                             f"last lines of {child.log_path}:\n{child.log_tail()}")
        if waiting:
            time.sleep(0.1)


@contextlib.contextmanager
def running_stack(*, service_env: dict | None = None, sandbox_env: dict | None = None, workers: int | None = 1,
                  keep_logs: bool = False, startup_timeout: float = STARTUP_TIMEOUT,
                  ports: tuple[int, int] | None = None) -> Iterator[Stack]:
    """Start the sandbox and the service on loopback (`ports`: sandbox's and service's, else free
    ones); stop exactly those on exit."""
    log_dir = Path(tempfile.mkdtemp(prefix="jimeng-stack-"))
    sandbox_port, service_port = ports or free_ports(2)
    sandbox_url, service_url = f"http://{HOST}:{sandbox_port}", f"http://{HOST}:{service_port}"
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    children: list[_Child] = []
    failed = True
    try:
        children.append(_start(
            "sandbox", [sys.executable, "-m", "sandbox", "--host", HOST, "--port", str(sandbox_port)],
            {**base_env, **(sandbox_env or {})}, log_dir, f"{sandbox_url}/_sandbox/records"))
        # Its own browser process per stack (a socket in the stack's temp dir): stacks run side by side.
        # Its own data directory too (the webhook engine's queue), unless the caller names one to reuse.
        env = {**base_env, "APP_ENV": "development", "JIMENG_UPSTREAM_URL": sandbox_url,
               "ALLOW_LOOPBACK_MEDIA": "1", "BROWSER_SOCKET": str(log_dir / "browser.sock"),
               "DATA_DIR": str(log_dir / "data"), **(service_env or {})}
        children.append(_start(
            # No control socket: its default path is one per user, and stacks run side by side.
            "service", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app",
                        "--bind", f"{HOST}:{service_port}", "--no-control-socket"]
            + (["--workers", str(workers)] if workers else []),   # None: gunicorn.conf.py decides
            env, log_dir, f"{service_url}/ping"))
        _wait_until_answering(children, startup_timeout)
        yield Stack(service_url=service_url, sandbox_url=sandbox_url, log_dir=log_dir,
                    service_pid=children[-1].proc.pid)
        failed = False
    finally:
        _stop_all(children)
        if failed or keep_logs:
            print(f"stack logs kept in {log_dir}", file=sys.stderr)
        else:
            shutil.rmtree(log_dir, ignore_errors=True)


def _stop_all(children: list[_Child]) -> None:
    """Stop every child even if stopping one is interrupted; then re-raise that interruption."""
    interrupted: BaseException | None = None
    for child in reversed(children):
        try:
            child.stop()
        except BaseException as exc:  # noqa: BLE001 - the others must still be stopped
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so `running_stack` stops its children (main thread only)."""
    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _raise)
