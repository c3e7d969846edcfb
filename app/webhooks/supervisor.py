"""The gunicorn master's webhook consumer: started when the master is ready, restarted if it dies,
stopped with the master (gunicorn.conf.py). A module-level singleton, because gunicorn re-reads its
config file on HUP and the consumer must outlive that."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)   # a consumer that keeps dying is restarted ever slower
STOP_TIMEOUT = 20.0


class ConsumerSupervisor:
    def __init__(self, log) -> None:
        self.log = log
        self._stopping = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="webhook-consumer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            argv = [sys.executable, "-m", "app.webhooks.consumer", "--parent-pid", str(os.getpid())]
            with self._lock:
                if self._stopping.is_set():
                    return
                self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
            self.log.info("webhook consumer started (pid %s)", self._proc.pid)
            code = self._proc.wait()   # gunicorn may reap it first: then this answers 0 at once
            if self._stopping.is_set():
                return
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)]
            failures += 1
            self.log.warning("webhook consumer exited (code %s); restarting in %g s", code, delay)
            self._stopping.wait(delay)

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()               # graceful: the jobs in hand finish
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_running: ConsumerSupervisor | None = None


def start(log) -> None:
    """Start the master's consumer unless WEBHOOK_CONSUMER=0 (its consumers run elsewhere)."""
    global _running
    if _running is not None:
        return
    if os.environ.get("WEBHOOK_CONSUMER", "1").strip() == "0":
        log.info("webhook consumer not started here (WEBHOOK_CONSUMER=0)")
        return
    _running = ConsumerSupervisor(log)
    _running.start()


def stop() -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running = None
