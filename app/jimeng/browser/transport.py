"""The worker side of the browser transport: send one call to the host's browser process.

Why one browser process per host, reached over a unix socket: gunicorn runs several worker
processes, and a Chromium per worker would multiply its memory (hundreds of MB each) and keep a
copy of every account's page in each. So the first worker that needs the browser starts one small
process (`python -m app.jimeng.browser.server`), under a file lock so two workers never both start
one; every worker then asks it over a local socket, one connection per call. Under gevent a worker
is one process serving many greenlets, so nothing here may block the process: the greenlets of one
worker take turns on an in-process lock (gevent's, once monkey-patched) before the file lock, and
the file lock itself is polled, never waited for in `flock`. The process lives in
the service's process group, exits when the process that started the service goes away, and is
started again by the next call if it ever dies. No call, no browser: nothing starts until a call
needs it.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app import errors
from app.serving.logs import redact

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 1024 * 1024   # bytes per line; generate bodies are tens of KB
START_TIMEOUT = 20.0             # seconds for a new browser process to answer (not Chromium's launch)
LOCK_POLL = 0.05                 # seconds between tries of the start lock another worker holds


@dataclass(frozen=True)
class BrowserCall:
    """One in-page fetch. `account` names the context (a hash, never the session id itself)."""

    account: str
    page_url: str
    url: str                                  # absolute; query already final (it gets signed as is)
    headers: dict[str, str]
    body: str                                 # the exact text sent: its UTF-8 bytes are what is signed
    cookies: list[dict] = field(default_factory=list)
    user_agent: str = ""
    client_hints: dict[str, str] = field(default_factory=dict)   # Sec-Ch-Ua* as sent direct: the page says the same
    locale: str = "zh-CN"
    proxy: str | None = None
    timeout: float = 60.0


def default_socket_path() -> str:
    """One path per user and host: every service worker of this user shares one browser."""
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"jimeng-api-browser-{os.getuid()}"
    return str(base / "browser.sock")


def secure_directory(directory: str) -> None:
    """Create the socket's directory owner-only, or refuse one that someone else could have prepared.

    The directory may sit in a world-writable place (/tmp): another local user can create it first,
    put a symlink where our lock or log file goes, or listen on our socket path to collect session
    cookies. So it must be a real directory (not a symlink), ours, and closed to group and others."""
    with contextlib.suppress(OSError):      # what went wrong is told by the checks below
        os.makedirs(os.path.dirname(directory) or ".", exist_ok=True)
    with contextlib.suppress(OSError):
        os.mkdir(directory, 0o700)
    try:
        info = os.lstat(directory)
    except OSError as exc:
        raise errors.BrowserUnavailable(f"the browser socket directory cannot be used ({exc.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        problem = "is not a directory (a symlink?)"
    elif info.st_uid != os.getuid():
        problem = f"belongs to uid {info.st_uid}, not to this service (uid {os.getuid()})"
    elif info.st_mode & 0o077:
        problem = f"has mode {stat.S_IMODE(info.st_mode):o}; it must be 700"
    else:
        return
    raise errors.BrowserUnavailable(
        f"refusing the browser socket directory {directory}: it {problem}; remove it or set BROWSER_SOCKET "
        f"to a path in a directory only this user can write")


def open_private(path: str, flags: int) -> int:
    """A file descriptor of our own file, never through a symlink (O_NOFOLLOW), created 0600."""
    return os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket (SO_PEERCRED, set by the kernel)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


class BrowserTransport:
    """Talks to the browser process; starts it lazily. Safe to share between threads."""

    def __init__(self, *, executable: str | None, problem: str = "", socket_path: str = "",
                 max_queue: int = 32, idle_seconds: float = 300.0, ready_timeout: float = 20.0,
                 page_path: str = "/ai-tool/video/generate") -> None:
        self.executable = executable
        self.problem = problem
        self.socket_path = socket_path or default_socket_path()
        self.max_queue = max_queue
        self.idle_seconds = idle_seconds
        self.ready_timeout = ready_timeout
        self.page_path = page_path
        # Created in the worker, after gevent's monkey-patching: a greenlet waits on it cooperatively.
        # A second greenlet calling flock() on the file the first one holds would block the whole
        # process, the first one with it, for good.
        self._starting = threading.Lock()

    # -- calls --------------------------------------------------------------------------------
    def fetch(self, call: BrowserCall) -> tuple[int, str]:
        """(HTTP status, body text) of the in-page fetch; a typed error when it could not be made."""
        if self.executable is None:
            raise errors.BrowserUnavailable(f"this call needs the browser transport: {self.problem}")
        message = {"op": "fetch", **call.__dict__}
        answer = self._ask(message, timeout=call.timeout + self.ready_timeout + 10.0, start=True)
        if answer.get("ok"):
            return int(answer["status"]), str(answer["text"])
        raise _error_for(answer)

    def witness(self, call: BrowserCall) -> list[dict]:
        """The API calls the account's page makes while it loads afresh (the doctor's page witness):
        method, url, headers (cookie masked) and body of each. Sends nothing of ours."""
        if self.executable is None:
            raise errors.BrowserUnavailable(f"the doctor's page check needs the browser transport: {self.problem}")
        answer = self._ask({"op": "witness", **call.__dict__}, timeout=call.timeout + self.ready_timeout + 10.0,
                           start=True)
        if answer.get("ok"):
            return [c for c in answer.get("calls") or [] if isinstance(c, dict)]
        raise _error_for(answer)

    def status(self) -> dict:
        """The browser's state for /healthz, without starting anything."""
        if self.executable is None:
            return {"state": "unavailable", "problem": self.problem}
        try:
            answer = self._ask({"op": "status"}, timeout=2.0, start=False)
        except (OSError, ValueError):
            return {"state": "not_started", "executable": self.executable}
        return {"state": answer.get("browser", "unknown"), "executable": self.executable,
                **{k: answer[k] for k in ("pid", "accounts", "launches", "queued", "browser_pids", "browser_rss")
                   if k in answer}}

    # -- the socket -----------------------------------------------------------------------------
    def _ask(self, message: dict, *, timeout: float, start: bool) -> dict:
        try:
            conn = self._connect()
        except OSError:
            if not start:
                raise
            self._start_server()
            try:
                conn = self._connect()
            except OSError as exc:
                raise errors.BrowserUnavailable(f"the browser process does not answer ({exc.strerror})") from None
        sent = False
        try:
            with conn:
                conn.settimeout(timeout)
                conn.sendall(json.dumps(message, ensure_ascii=False).encode() + b"\n")
                sent = True
                return json.loads(_read_line(conn))
        except (OSError, ValueError) as exc:
            if not start:
                raise
            if isinstance(exc, TimeoutError):
                raise errors.UpstreamTimeout("the browser did not finish the call in time") from None
            # The process died or hung up mid-call: the call may have reached Jimeng.
            where = "while sending" if sent else "before sending"
            raise errors.UpstreamUnavailable(f"the browser process failed {where} the call") from None

    def _connect(self) -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(2.0)
            conn.connect(self.socket_path)
            if peer_uid(conn) != os.getuid():
                # Someone else's listener: it must see no cookie and must not answer for Jimeng.
                raise PermissionError(errno.EACCES, "the browser socket is another user's")
        except OSError:
            conn.close()
            raise
        return conn

    def _start_server(self) -> None:
        """Start the browser process unless another greenlet, thread or worker just did: the
        in-process lock orders this worker's callers, the file lock the workers."""
        secure_directory(os.path.dirname(os.path.abspath(self.socket_path)))
        with self._starting:
            with contextlib.suppress(OSError):
                self._connect().close()
                return          # another caller of this worker started it while we waited
            try:
                lock = open(open_private(f"{self.socket_path}.lock", os.O_WRONLY), "w")
            except OSError as exc:
                raise _unsafe_file(exc) from None
            with lock:
                _take_file_lock(lock, timeout=START_TIMEOUT + 10.0)
                with contextlib.suppress(OSError):
                    self._connect().close()
                    return      # another worker started it while we waited for the lock
                self._launch()

    def _launch(self) -> None:
        """Start the process and wait until its socket answers (the caller holds both locks)."""
        argv = [sys.executable, "-m", "app.jimeng.browser.server", "--socket", self.socket_path,
                "--executable", self.executable or "", "--owner-pid", str(_service_pid()),
                "--max-queue", str(self.max_queue), "--idle-seconds", str(self.idle_seconds),
                "--ready-timeout", str(self.ready_timeout)]
        try:
            out = open(open_private(f"{self.socket_path}.log", os.O_WRONLY | os.O_APPEND), "ab")
        except OSError as exc:
            raise _unsafe_file(exc) from None
        with out:
            # Not a new session: the process stays in the service's process group, so stopping
            # the service's group stops it too.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    close_fds=True, cwd=str(Path(__file__).resolve().parents[3]))
        log.info("browser process started", extra={"pid": proc.pid})
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise errors.BrowserUnavailable(
                    f"the browser process exited with code {proc.returncode} while starting; "
                    f"see {self.socket_path}.log")
            with contextlib.suppress(OSError):
                self._connect().close()
                return
            time.sleep(0.05)
        raise errors.BrowserUnavailable(f"the browser process did not start within {START_TIMEOUT:g} s")


def _take_file_lock(lock, *, timeout: float) -> None:
    """flock() the start lock without blocking the process: another worker may hold it for the
    seconds a start takes, and a gevent worker blocked in flock() serves nobody meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise errors.BrowserUnavailable(
                    f"another worker has been starting the browser process for over {timeout:g} s") from None
            time.sleep(LOCK_POLL)


def _unsafe_file(exc: OSError) -> errors.ServiceError:
    return errors.BrowserUnavailable(f"the browser's lock or log file cannot be opened safely ({exc.strerror}; "
                                     f"a symlink?); remove the directory of BROWSER_SOCKET")


def _service_pid() -> int:
    """The process whose life bounds the browser's: gunicorn's master for a worker, else ourselves."""
    parent = os.getppid()
    return parent if "gunicorn" in _cmdline(parent) else os.getpid()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _read_line(conn: socket.socket) -> bytes:
    chunks, size = [], 0
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionResetError("the browser process closed the connection")
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)
        if size > MAX_MESSAGE:
            raise ValueError("the browser process answered too much")


def _error_for(answer: dict) -> errors.ServiceError:
    """The browser process's refusal as the error a client sees (nothing sent unless it says so)."""
    # Playwright's messages never carry cookie values as far as we know; redact anyway, as logs do.
    kind, message = answer.get("error"), redact(str(answer.get("message") or ""))[:300]
    if kind == "busy":
        return errors.ServiceBusy("the browser transport's queue is full; retry in a moment")
    if kind == "queued_too_long":
        return errors.ServiceBusy("the browser transport could not take the call in time; retry in a moment")
    if kind == "unavailable":
        return errors.BrowserUnavailable(f"the browser could not be started: {message}")
    if kind == "not_ready":
        return errors.UpstreamUnavailable(f"Jimeng's page did not become ready for signing: {message}")
    if kind == "timeout":
        return errors.UpstreamTimeout("Jimeng did not answer the browser's call in time")
    return errors.UpstreamUnavailable(f"the browser failed while sending the call ({message or kind})")
