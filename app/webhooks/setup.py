"""Wiring the engine into an app: the services its jobs use are the app's own (create_app)."""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, request

from app.services.api_keys import task_id_secret
from app.services.tasks import TaskSettings, TaskState
from app.webhooks.engine import Runtime, Webhooks
from app.webhooks.signing import secret_problem
from app.webhooks.store import Watch


def install_webhooks(app: Flask, cfg, clock: Callable[[], float],
                     shapes: dict[str, Callable[[TaskState], dict]]) -> Webhooks:
    """`app.extensions["webhooks"]`; a malformed WEBHOOK_SECRET stops the start (it would sign with a
    key no receiver has). `shapes`: each route family's query answer, the `data` of its events."""
    if cfg.WEBHOOK_SECRET and secret_problem(cfg.WEBHOOK_SECRET, "WEBHOOK_SECRET"):
        raise RuntimeError(secret_problem(cfg.WEBHOOK_SECRET, "WEBHOOK_SECRET"))
    ext = app.extensions

    def task_settings(watch: Watch) -> TaskSettings:
        pool = ext.get("pool")
        company = {} if not watch.pool_account or pool is None else dict(
            raw_ids=False, owner_removed_is_gone=True, on_seen=pool.task_seen)
        return TaskSettings(secret_key=task_id_secret(cfg.SECRET_KEY, watch.api_key or None),
                            grace_seconds=cfg.HISTORY_GRACE_SECONDS, **cfg.task_timing(),
                            clock=clock, **company)

    def pool_token(label: str):
        pool = ext.get("pool")
        return next((t for t in pool.tokens() if t.account == label), None) if pool is not None else None

    def key_secret(name: str) -> str | None:
        keys = ext.get("api_keys")
        key = keys.named(name) if keys is not None else None
        return key.webhook_secret if key is not None else None

    hooks = Webhooks(Runtime(config=cfg, client=ext["jimeng_client"], clock=clock, shapes=shapes,
                             task_settings=task_settings, pool_token=pool_token, key_secret=key_secret))
    ext["webhooks"] = hooks
    refreshed = [float("-inf")]

    @app.before_request
    def _webhook_gauges():
        """A scrape shows the engine's backlog as its store has it now (read at most once a second)."""
        if request.path == "/metrics" and time.monotonic() - refreshed[0] >= 1.0:
            refreshed[0] = time.monotonic()
            hooks.publish_metrics()

    return hooks
