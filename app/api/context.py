"""What every view needs from the request and the app: who is calling, the request's headers, and
the services create_app made (the client, the submit service, each caller's settings)."""
from __future__ import annotations

from dataclasses import replace

from flask import current_app, g, request

from app import errors
from app.api.authorization import parse_authorization
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.net.proxies import check_proxy
from app.services.api_keys import Caller
from app.services.catalogue import LiveCatalogue
from app.services.idempotency import IdempotencyKey
from app.services.pool import AccountPool
from app.services.settings import Settings
from app.services.submitter import Submitter
from app.services.tasks import TaskSettings
from app.serving.logs import remember_secrets


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


def idempotency() -> IdempotencyKey | None:
    """The request's `Idempotency-Key`, and whether the client says it is a retry (the OpenAI SDKs
    count their retries in `x-stainless-retry-count`)."""
    return IdempotencyKey.from_headers(request.headers.get("Idempotency-Key"),
                                       request.headers.get("X-Stainless-Retry-Count"))


def checked_proxy(token: Token, param: str) -> Token:
    """The token with its proxy checked against TOKEN_PROXY_ALLOWLIST (and pinned), or a 400."""
    if token.proxy is None:
        return token
    return replace(token, proxy=check_proxy(token.proxy, current_app.extensions["proxy_allowlist"], param=param))


def submitter() -> Submitter:
    return current_app.extensions["submitter"]


def task_settings() -> TaskSettings:
    """How this request's caller reads tasks."""
    settings: Settings = current_app.extensions["settings"]
    return settings.tasks(caller())


def pool() -> AccountPool | None:
    return current_app.extensions.get("pool")


def client() -> JimengClient:
    return current_app.extensions["jimeng_client"]


def catalogue() -> LiveCatalogue:
    return current_app.extensions["catalogue"]


def config():
    return current_app.extensions["app_config"]
