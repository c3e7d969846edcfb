"""Company mode: wiring of API keys and the account pool, and the operator's view `GET /v1/accounts`."""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, request
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.services.api_keys import ApiKeys
from app.services.pool import AccountPool, PoolSettings

blp = Blueprint("accounts", __name__, url_prefix="/v1/accounts", description="The server-held account pool")


def install(app: Flask, cfg, clock: Callable[[], float]) -> AccountPool | None:
    """Company mode when API_KEYS_FILE and JIMENG_ACCOUNTS_FILE are set (a bad file stops the start):
    the account pool, or None. `clock` is the app's (a test's hand-moved one when set)."""
    if not (cfg.API_KEYS_FILE or cfg.JIMENG_ACCOUNTS_FILE):
        return None
    if not (cfg.API_KEYS_FILE and cfg.JIMENG_ACCOUNTS_FILE):
        raise RuntimeError("company mode needs both API_KEYS_FILE and JIMENG_ACCOUNTS_FILE")

    state = app.extensions["shared_state"]
    app.extensions["api_keys"] = ApiKeys(cfg.API_KEYS_FILE)
    app.extensions["pool"] = AccountPool(
        cfg.JIMENG_ACCOUNTS_FILE, app.extensions["proxy_allowlist"], state, app.extensions["jimeng_client"],
        PoolSettings(cooldown_seconds=cfg.POOL_COOLDOWN_SECONDS, busy_cooldown_seconds=cfg.POOL_BUSY_COOLDOWN_SECONDS,
                     credits_ttl=cfg.POOL_CREDITS_TTL, failover_on_risk=cfg.POOL_FAILOVER,
                     task_timeout=max(cfg.VIDEO_TASK_TIMEOUT, cfg.IMAGE_TASK_TIMEOUT)), clock)
    refreshed = [float("-inf")]

    @app.before_request
    def _account_gauges():
        """A scrape shows each account as the shared state has it now (read at most once a second)."""
        if request.path == "/metrics" and time.monotonic() - refreshed[0] >= 1.0:
            refreshed[0] = time.monotonic()
            app.extensions["pool"].publish_metrics()

    return app.extensions["pool"]


@blp.get("")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "one item per account", "content": {
    "application/json": {"schema": {"type": "object", "properties": {"data": {"type": "array", "items": {
        "type": "object", "properties": {
            "label": {"type": "string"}, "region": {"type": "string"}, "session": {"type": "string"},
            "proxy": {"type": "boolean"}, "max_parallel": {"type": "integer"}, "running": {"type": "integer"},
            "credits": {"type": "integer", "nullable": True}, "cooldown_seconds": {"type": "integer"},
            "last_error": {"type": "object", "nullable": True}}}}}}}}}})
def list_accounts():
    """Each pool account: label, region, masked session id, credits, running tasks, cooldown, last error.
    An admin API key only."""
    pool = context.pool()
    if pool is None:
        raise errors.NotFound("this service has no account pool (JIMENG_ACCOUNTS_FILE is not set)")
    key = context.caller().key
    if key is None or not key.admin:
        raise errors.Forbidden("only an admin API key may list the accounts")
    return {"data": pool.status()}
