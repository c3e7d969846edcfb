"""Which video models an account can use now: Jimeng's live catalogue, cached briefly per account,
over the static table.

The live read is an aid, never a new way to fail: when `get_common_config` cannot be read the
static table stands (logged), and the submit goes on. A model Jimeng refused with ret 2061 is
remembered for the same time, so the next request is told at once.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.live_catalogue import AccountCatalogue, parse_common_config
from app.jimeng.models import VIDEO_MODELS, VideoModel
from app.jimeng.regions import Token

log = logging.getLogger(__name__)

FAILED_TTL = 30.0       # a failed config read is retried after this long, not on every submit
MAX_ACCOUNTS = 4096


@dataclass(frozen=True)
class AccountModels:
    """One account's view: the live catalogue (None: static table) and models refused with 2061."""

    region: str
    live: AccountCatalogue | None
    refused: frozenset[str] = frozenset()

    def offers(self, model: VideoModel) -> bool:
        if model.req_key in self.refused or self.region not in model.regions:
            return False
        return self.live.offers(model) if self.live is not None else True

    def merged(self, model: VideoModel) -> VideoModel:
        return self.live.merged(model) if self.live is not None else model

    def available_names(self) -> list[str]:
        return [m.name for m in VIDEO_MODELS.values() if self.offers(m)]

    def unavailable(self, model: VideoModel) -> errors.ModelUnavailable:
        names = self.available_names()
        return errors.ModelUnavailable(
            f"model {model.name!r} is not available to this Jimeng account now; available: "
            f"{', '.join(names) if names else 'none'}", param="model")


class LiveCatalogue:
    """Per-account cache of `get_common_config`, shared by a worker's threads."""

    def __init__(self, *, ttl: float = 300.0, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self._ok: TTLCache = TTLCache(MAX_ACCOUNTS, ttl, timer=clock)
        self._failed: TTLCache = TTLCache(MAX_ACCOUNTS, min(ttl, FAILED_TTL), timer=clock)
        self._refused: TTLCache = TTLCache(MAX_ACCOUNTS, ttl, timer=clock)
        self._lock = threading.Lock()

    def for_token(self, client: JimengClient, token: Token) -> AccountModels:
        key = token.account_key
        with self._lock:
            refused = frozenset(self._refused.get(key, ()))
            if not self.enabled or key in self._failed:
                return AccountModels(token.region.code, None, refused)
            live = self._ok.get(key)
        if live is None:
            live = self._read(client, token, key)
        return AccountModels(token.region.code, live, refused)

    def _read(self, client: JimengClient, token: Token, key: bytes) -> AccountCatalogue | None:
        try:
            live = parse_common_config(client.video_config(token))
        except errors.ServiceError as exc:
            log.warning("live catalogue unavailable for a %s account (%s); using the static table",
                        token.region.code, exc.code)
            live = None
        with self._lock:
            if live is None:
                self._failed[key] = True
            else:
                self._ok[key] = live
        return live

    def refused(self, token: Token, model: VideoModel) -> None:
        """Jimeng answered 2061 for this model: treat it as unavailable to the account for a while."""
        key = token.account_key
        with self._lock:
            self._refused[key] = frozenset(self._refused.get(key, ())) | {model.req_key}

