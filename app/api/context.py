"""What every view needs from the request and the app: tokens, the client, service settings."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from flask import current_app, g, request

from app import errors
from app.services.api_keys import ApiKey, task_id_secret

from app.jimeng.client import JimengClient
from app.api.authorization import parse_authorization
from app.jimeng.regions import Token
from app.serving.logs import remember_secrets
from app.services.catalogue import LiveCatalogue
from app.net.proxies import check_proxy
from app.services.pool import AccountPool
from app.services.idempotency import IdempotencyKey
from app.services.tasks import TaskSettings, fingerprint_key
from app.task_ids import TaskId
from app.services.images import ImageRequest, submit_image
from app.services.videos import SubmitSettings, SubmittedTask, VideoRequest, submit_video
from app.webhooks import registration
from app.webhooks.registration import WebhookRequest

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key (company mode; tokens are the pool's) or a client's own tokens."""

    key: ApiKey | None
    tokens: list[Token]


def caller() -> Caller:
    """Authenticate once per request. With API keys configured, a bearer that is no key is 401
    unless ALLOW_CLIENT_TOKENS=1 lets session ids through as before."""
    if "caller" in g:
        return g.caller
    keys = current_app.extensions.get("api_keys")
    header = request.headers.get("Authorization")
    if keys is None:
        who = Caller(None, _client_tokens(header))
    else:
        scheme, _, presented = (header or "").strip().partition(" ")
        key = keys.find(presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
        if key is not None:
            who = Caller(key, pool().tokens())
        elif config().ALLOW_CLIENT_TOKENS and header:
            who = Caller(None, _client_tokens(header))
        elif not header:
            raise errors.MissingToken("send your API key as 'Authorization: Bearer <api key>'")
        else:
            raise errors.InvalidApiKey("the API key is not valid (unknown, revoked or mistyped)")
    remember_secrets(t.session_id for t in who.tokens)   # masked wherever they appear, even bare
    g.caller = who
    return who


def _client_tokens(header: str | None) -> list[Token]:
    return [checked_proxy(t, "Authorization") for t in parse_authorization(header)]


def tokens() -> list[Token]:
    return caller().tokens


def account_tokens() -> list[Token]:
    """Tokens for routes that show a whole account (its balance, its history list). A pool account
    holds every API key's tasks, so in company mode only an admin key may use them."""
    who = caller()
    if who.key is not None and not who.key.admin:
        raise errors.Forbidden("with an API key this route is for admin keys only: a pool account holds "
                               "every key's tasks")
    return who.tokens


def pool() -> AccountPool | None:
    return current_app.extensions.get("pool")


def _key_secret(key: ApiKey | None) -> str:
    """Task ids of an API key are tagged under a key of their own: another key's ids do not decode."""
    return task_id_secret(config().SECRET_KEY, key)


def submit_task(run: Callable[[Sequence[Token], SubmitSettings], T], tokens: Sequence[Token],
                model: str | None, rewind: Callable[[], None], *, kind: str = "video",
                webhook: WebhookRequest | None = None) -> T:
    """Run a submit: with the client's tokens, or in company mode on the pool (model allowlist,
    submits_per_minute, the account choice, failover). `rewind` readies uploaded files for a retry."""
    who = caller()
    run = _watching(run, kind, webhook, who.key)
    settings = submit_settings()
    if who.key is None:
        return run(tokens, settings)
    key = who.key
    if key.models is not None and model not in key.models:
        allowed = ", ".join(sorted(key.models)) or "none"
        raise errors.Forbidden(f"this API key may use the models {allowed}; name one in 'model'", param="model")
    if key.submits_per_minute is not None:
        now = _clock()()
        window = int(now // 60)
        if current_app.extensions["shared_state"].count(f"rate:{key.name}:{window}", 120) > key.submits_per_minute:
            raise errors.RateLimited(f"this API key may submit {key.submits_per_minute} tasks per minute",
                                     headers={"Retry-After": str(int(60 - now % 60) + 1)})

    def attempt(pool_tokens: Sequence[Token], choose: Callable) -> T:
        rewind()
        return run(pool_tokens, replace(settings, choose=choose, stable_choice=False))

    def slot_name(task, token: Token) -> str | None:
        """The task's upstream id when it runs on `token`'s account (an idempotent replay may name
        a task another account already counts)."""
        tid = TaskId.decode(task.task_id, settings.secret_key)
        if tid is None or tid.token_fp != token.fingerprint(fingerprint_key(settings.secret_key)):
            return None
        return tid.upstream_id

    return pool().submit(attempt, slot_name)


def _watching(run: Callable[[Sequence[Token], SubmitSettings], T], kind: str, webhook: WebhookRequest | None,
              key: ApiKey | None) -> Callable[[Sequence[Token], SubmitSettings], T]:
    """The one place submits meet webhooks: the webhook (the request's, or its API key's default) is
    checked before anything is sent, and the task is watched once Jimeng accepted it. A failure to
    record the watch after that is logged, never answered: the task exists and is paid for."""
    hooks = current_app.extensions["webhooks"]
    planned = registration.plan(webhook, kind, key=key, cfg=config(),
                                family="openai_videos" if request.blueprint == "openai_videos" else "tasks")
    if planned is None:
        return run

    def run_and_watch(toks: Sequence[Token], settings: SubmitSettings) -> T:
        task = run(toks, settings)
        try:
            registration.watch_submitted(hooks, planned, task.task_id, toks, settings.secret_key, config())
        except Exception:   # noqa: BLE001 - the task is accepted; its answer must not be lost
            log.exception("webhook not registered for an accepted task")
        return task
    return run_and_watch


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


def _api_key() -> ApiKey | None:
    return caller().key if "api_keys" in current_app.extensions else None


def task_settings() -> TaskSettings:
    cfg = config()
    key = _api_key()
    company = {} if key is None else dict(raw_ids=False, owner_removed_is_gone=True, on_seen=pool().task_seen)
    secret = _key_secret(key)
    webhooks = current_app.extensions["webhooks"]
    return TaskSettings(secret_key=secret, grace_seconds=cfg.HISTORY_GRACE_SECONDS,
                        timeouts={"video": cfg.VIDEO_TASK_TIMEOUT, "image": cfg.IMAGE_TASK_TIMEOUT},
                        clock=_clock(), state=current_app.extensions["shared_state"],
                        webhook_states=webhooks.states, on_ended=lambda s: webhooks.task_ended(s, secret),
                        **company)


def submit_settings() -> SubmitSettings:
    cfg = config()
    who = caller()
    secret = _key_secret(_api_key())
    scope = "" if who.key is not None else ",".join(
        sorted(t.fingerprint(fingerprint_key(secret)).hex() for t in who.tokens))
    return SubmitSettings(secret_key=secret, max_upload_bytes=cfg.MAX_UPLOAD_MB * 1024 * 1024,
                          max_prompt_chars=cfg.MAX_PROMPT_CHARS,
                          fetch_timeout=cfg.FETCH_TIMEOUT, allow_loopback_media=cfg.ALLOW_LOOPBACK_MEDIA,
                          clock=_clock(), catalogue=catalogue(), workspaces=current_app.extensions["workspaces"],
                          state=current_app.extensions["shared_state"], listing_window=cfg.HISTORY_GRACE_SECONDS,
                          idempotency_scope=scope)


def submit_video_task(req: VideoRequest, tokens: Sequence[Token],
                      idempotency: IdempotencyKey | None = None) -> SubmittedTask:
    """Every video route submits through here, so company mode's pool sees each submit."""
    return submit_task(lambda toks, settings: submit_video(req, toks, client(), settings, idempotency=idempotency),
                       tokens, req.model, req.rewind, kind="video", webhook=req.webhook)


def idempotency() -> IdempotencyKey | None:
    """The request's `Idempotency-Key`, and whether the client says it is a retry (the OpenAI SDKs
    count their retries in `x-stainless-retry-count`)."""
    return IdempotencyKey.from_headers(request.headers.get("Idempotency-Key"),
                                       request.headers.get("X-Stainless-Retry-Count"))


def submit_image_task(req: ImageRequest, tokens: Sequence[Token],
                      idempotency: IdempotencyKey | None = None) -> SubmittedTask:
    """Every image route submits through here, so company mode's pool sees each submit too."""
    return submit_task(lambda toks, settings: submit_image(req, toks, client(), settings, idempotency=idempotency),
                       tokens, req.model, req.rewind, kind="image", webhook=req.webhook)
