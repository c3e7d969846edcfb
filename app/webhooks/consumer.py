"""The webhook engine's consumer: `jimeng-api-consumer` (or `python -m app.webhooks.consumer`).

The gunicorn master runs one by itself (gunicorn.conf.py; WEBHOOK_CONSUMER=0 turns that off). On
other hosts sharing the queue through REDIS_URL, start more with the same environment as the service:

    REDIS_URL=redis://queue-host:6379/0 SECRET_KEY=... WEBHOOK_SECRET=... jimeng-api-consumer --workers 8

It builds the app (create_app) only for its services and settings, then runs huey's consumer:
worker threads for the jobs, huey's scheduler for delayed jobs and the minute's sweep. SIGTERM or
SIGINT stop it in a second or two: attempts in flight are cut (sent again at the next start), polls
in hand given back; a sweep at start takes up what a crashed consumer left.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading


def _exit_with_parent(parent_pid: int) -> None:
    """Stop gracefully when the process that started us is gone (a gunicorn master killed with -9)."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            threading.Event().wait(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="jimeng-api-consumer", description="Run the webhook engine's consumer.")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker threads (default WEBHOOK_CONSUMER_WORKERS, 8)")
    parser.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    from app.factory import create_app

    app = create_app()
    cfg = app.extensions["app_config"]
    # huey logs every job at INFO: a poll every few seconds would drown the service's own lines.
    logging.getLogger("huey").setLevel(max(logging.WARNING, logging.getLogger().level))
    hooks = app.extensions["webhooks"]
    consumer = hooks.create_consumer(max(args.workers or cfg.WEBHOOK_CONSUMER_WORKERS, 1))
    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    hooks.sweep_now()
    logging.getLogger(__name__).info("webhook consumer started", extra={
        "engine": "redis" if cfg.REDIS_URL else "sqlite", "workers": consumer.workers})
    consumer.run()


if __name__ == "__main__":
    main()
