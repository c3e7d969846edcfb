"""What every view needs from the request and the app: tokens, the client, service settings."""
from __future__ import annotations

import time
from dataclasses import replace

from flask import current_app, request

from app.jimeng.client import JimengClient
from app.jimeng.regions import Token, parse_authorization
from app.services.catalogue import LiveCatalogue
from app.proxies import check_proxy
from app.services.idempotency import IdempotencyKey
from app.services.tasks import TaskSettings
from app.services.videos import SubmitSettings


def tokens() -> list[Token]:
    return [checked_proxy(t, "Authorization") for t in parse_authorization(request.headers.get("Authorization"))]


def checked_proxy(token: Token, param: str) -> Token:
    """The token with its proxy checked against TOKEN_PROXY_ALLOWLIST (and pinned), or a 400."""
    if token.proxy is None:
        return token
    return replace(token, proxy=check_proxy(token.proxy, current_app.extensions["proxy_allowlist"], param=param))


def client() -> JimengClient:
    return current_app.extensions["jimeng_client"]


def catalogue() -> LiveCatalogue:
    return current_app.extensions["catalogue"]


def config():
    return current_app.extensions["app_config"]


def _clock():
    """Tests put a hand-moved clock in app.extensions["clock"]; otherwise real time."""
    return current_app.extensions.get("clock") or time.time


def task_settings() -> TaskSettings:
    cfg = config()
    return TaskSettings(secret_key=cfg.SECRET_KEY, grace_seconds=cfg.HISTORY_GRACE_SECONDS,
                        timeouts={"video": cfg.VIDEO_TASK_TIMEOUT, "image": cfg.IMAGE_TASK_TIMEOUT},
                        clock=_clock())


def submit_settings() -> SubmitSettings:
    cfg = config()
    return SubmitSettings(secret_key=cfg.SECRET_KEY, max_upload_bytes=cfg.MAX_UPLOAD_MB * 1024 * 1024,
                          max_prompt_chars=cfg.MAX_PROMPT_CHARS,
                          fetch_timeout=cfg.FETCH_TIMEOUT, allow_loopback_media=cfg.ALLOW_LOOPBACK_MEDIA,
                          clock=_clock(), catalogue=catalogue(), workspaces=current_app.extensions["workspaces"])


def idempotency() -> IdempotencyKey | None:
    """The request's `Idempotency-Key`, and whether the client says it is a retry (the OpenAI SDKs
    count their retries in `x-stainless-retry-count`)."""
    return IdempotencyKey.from_headers(request.headers.get("Idempotency-Key"),
                                       request.headers.get("X-Stainless-Retry-Count"))
