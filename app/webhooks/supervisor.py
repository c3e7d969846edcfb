"""The gunicorn master's webhook consumer: started when the master is ready, restarted if it dies,
stopped with the master (gunicorn.conf.py).

The restarting is done by a small process of its own (`python -m app.webhooks.supervisor`), which
the master starts once, from its main thread, before it forks any worker. Not a thread of the
master: a thread's fork+exec can race the master's worker forks, and a worker that inherits the
exec status pipe leaves the thread's Popen waiting forever (seen: no consumer after the first death).
The supervisor imports nothing of the app and forks nothing but the consumer.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)   # a consumer that keeps dying is restarted ever slower
HEALTHY_SECONDS = 60.0                         # a consumer that ran this long starts the delays over
STOP_TIMEOUT = 5.0     # the consumer stops in a second or two (attempts in flight are cut); then it is killed
WATCH_SECONDS = 0.1    # how soon a stop or a consumer's death is noticed

log = logging.getLogger("app.webhooks.supervisor")
_running: subprocess.Popen | None = None


# -- in the gunicorn master ------------------------------------------------------------------------

def start(server_log) -> None:
    """Start the supervisor unless WEBHOOK_CONSUMER=0 (the consumers run elsewhere). Main thread only."""
    global _running
    if _running is not None and _running.poll() is None:
        return
    if os.environ.get("WEBHOOK_CONSUMER", "1").strip() == "0":
        server_log.info("webhook consumer not started here (WEBHOOK_CONSUMER=0)")
        return
    _running = subprocess.Popen([sys.executable, "-m", "app.webhooks.supervisor", "--parent-pid", str(os.getpid())],
                                stdin=subprocess.DEVNULL)
    server_log.info("webhook consumer supervisor started (pid %s)", _running.pid)


def stop() -> None:
    """Stop the supervisor, which stops its consumer after the jobs in hand."""
    global _running
    proc, _running = _running, None
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT + 5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- the supervisor process ------------------------------------------------------------------------

def supervise(parent_pid: int) -> None:
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    failures = 0
    while not stopping and os.getppid() == parent_pid:
        consumer = subprocess.Popen([sys.executable, "-m", "app.webhooks.consumer", "--parent-pid", str(os.getpid())],
                                    stdin=subprocess.DEVNULL)
        started = time.monotonic()
        log.info("webhook consumer started (pid %s)", consumer.pid)
        while consumer.poll() is None and not stopping and os.getppid() == parent_pid:
            time.sleep(WATCH_SECONDS)
        if consumer.poll() is None:         # asked to stop, or the master is gone
            consumer.terminate()            # graceful: the jobs in hand finish
            try:
                consumer.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                consumer.kill()
                consumer.wait()
            return
        failures = 0 if time.monotonic() - started >= HEALTHY_SECONDS else failures + 1
        delay = RESTART_DELAYS[min(max(failures - 1, 0), len(RESTART_DELAYS) - 1)]
        log.warning("webhook consumer exited (code %s); restarting in %g s", consumer.returncode, delay)
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.webhooks.supervisor")
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    import logging.config

    from app.serving.logs import default_log_format, logging_config

    logging.config.dictConfig(logging_config(os.environ.get("LOG_LEVEL", "INFO").upper(), os.environ.get(
        "LOG_FORMAT", default_log_format(os.environ.get("APP_ENV"))).lower()))
    supervise(args.parent_pid)


if __name__ == "__main__":
    main()
