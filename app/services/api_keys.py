"""API keys of company mode (`API_KEYS_FILE`): who may call, as which name, for which models, how often.

File: {"keys": [{"name": "svc-a", "key": "<secret>", "admin": false, "models": [...], "submits_per_minute": 60,
"webhook_url": "https://svc-a.example/hooks", "webhook_secret": "whsec_..."}]}: a key may carry a default
webhook URL (used when a submit names none) and a signing secret of its own (else WEBHOOK_SECRET).
Keys are compared as SHA-256 digests with `hmac.compare_digest` against every configured key (no
early exit), so timing tells nothing about a key; the key itself is never stored in a log or a task
id. A task binds to the key's *name*, so rotating a key's secret keeps its tasks; two entries may
share a name (old and new secret side by side while clients move over).
"""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from app.jimeng.regions import Token
from app.state.watched_file import ConfigFileError, WatchedJson, entries

MIN_KEY_LENGTH = 16
KEY_FIELDS = frozenset({"name", "key", "admin", "models", "submits_per_minute", "webhook_url", "webhook_secret"})


@dataclass(frozen=True)
class ApiKey:
    name: str
    digest: bytes = b""                    # SHA-256 of the secret
    admin: bool = False
    models: frozenset[str] | None = None   # None: every model
    submits_per_minute: int | None = None  # None: no limit
    webhook_url: str | None = None         # the default target of this key's webhooks
    webhook_secret: str | None = None      # signs this key's webhooks (None: WEBHOOK_SECRET)

    def __repr__(self) -> str:  # never show the digest nor the webhook secret
        return f"ApiKey(name={self.name!r}, admin={self.admin})"


@dataclass(frozen=True)
class Caller:
    """Who is calling: an API key (company mode; its tokens are the pool's) or a client's own tokens."""

    key: ApiKey | None
    tokens: list[Token]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def parse_keys(raw: object) -> tuple[ApiKey, ...]:
    keys, digests = [], set()
    for where, entry in entries(raw, "API_KEYS_FILE", "keys", KEY_FIELDS):
        name, secret = entry.get("name"), entry.get("key")
        if not isinstance(name, str) or not name.strip():
            raise ConfigFileError(f"{where}.name must be a non-empty string")
        if not isinstance(secret, str) or len(secret) < MIN_KEY_LENGTH:
            raise ConfigFileError(f"{where}.key must be a string of at least {MIN_KEY_LENGTH} characters")
        if not isinstance(entry.get("admin", False), bool):
            raise ConfigFileError(f"{where}.admin must be true or false")
        models = entry.get("models")
        if models is not None and (not isinstance(models, list) or not all(isinstance(m, str) for m in models)):
            raise ConfigFileError(f"{where}.models must be a list of model names")
        rate = entry.get("submits_per_minute")
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
            raise ConfigFileError(f"{where}.submits_per_minute must be a positive integer")
        webhook_url, webhook_secret = entry.get("webhook_url"), entry.get("webhook_secret")
        if webhook_url is not None and (not isinstance(webhook_url, str) or
                                        not webhook_url.startswith(("https://", "http://"))):
            raise ConfigFileError(f"{where}.webhook_url must be an https URL")
        if webhook_secret is not None:
            from app.webhooks.signing import secret_problem
            problem = secret_problem(webhook_secret, f"{where}.webhook_secret") if isinstance(
                webhook_secret, str) else f"{where}.webhook_secret must be a string"
            if problem:
                raise ConfigFileError(problem)
        digest = _digest(secret)
        if digest in digests:
            raise ConfigFileError(f"{where}.key is the same as another key's")
        digests.add(digest)
        keys.append(ApiKey(name=name, digest=digest, admin=entry.get("admin", False),
                           models=frozenset(models) if models is not None else None, submits_per_minute=rate,
                           webhook_url=webhook_url, webhook_secret=webhook_secret))
    return tuple(keys)


class ApiKeys:
    """The configured keys, re-read when the file changes."""

    def __init__(self, path: str) -> None:
        self._file = WatchedJson(path, parse_keys, "API_KEYS_FILE")

    def find(self, presented: str) -> ApiKey | None:
        """The key whose secret is `presented`, compared in constant time against every key."""
        digest = _digest(presented)
        found = None
        for key in self._file.current():
            if hmac.compare_digest(digest, key.digest):
                found = key
        return found

    def named(self, name: str) -> ApiKey | None:
        """The key of this name (its webhook settings; entries sharing a name share them)."""
        return next((k for k in self._file.current() if k.name == name), None)


def task_id_secret(secret_key: str, key: ApiKey | str | None) -> str:
    """Task ids of an API key are tagged under a key of their own: another key's ids do not decode."""
    name = key.name if isinstance(key, ApiKey) else key
    return secret_key if not name else f"{secret_key}\0api-key\0{name}"
