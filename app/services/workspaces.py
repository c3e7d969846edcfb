"""Abroad accounts' workspace ids: Dreamina's generate must name the account's latest workspace in
`extend.workspace_id` ([DR] 9.6, 10.3), read from `workspace/list` and cached per account.

CN sends none (the browser's `0` is optional there: [ZN], [SB] work without it).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.numbers import upstream_int
from app.jimeng.regions import Token

log = logging.getLogger(__name__)

MAX_ACCOUNTS = 4096


def latest_workspace(data: dict) -> int | str | None:
    """The newest workspace id in a `workspace/list` answer (the first when none is dated)."""
    entries = next((data[k] for k in ("workspace_list", "workspaces", "list")
                    if isinstance(data.get(k), list)), [])
    best, best_time = None, None
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        raw = upstream_int(entry.get("workspace_id", entry.get("id")))
        if raw is None or not 0 <= raw < 10 ** 20:
            continue
        created = entry.get("create_time")
        created = created if isinstance(created, (int, float)) and not isinstance(created, bool) else None
        if best is None or (created is not None and (best_time is None or created > best_time)):
            best, best_time = raw, created
    return best


class Workspaces:
    def __init__(self, *, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: TTLCache = TTLCache(MAX_ACCOUNTS, ttl, timer=clock)
        self._lock = threading.Lock()

    def for_token(self, client: JimengClient, token: Token) -> int | str | None:
        """The id to send, or None (CN; or the list could not be read: Jimeng will then say why)."""
        if token.region.code == "cn":
            return None
        key = token.account_key
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        try:
            found = latest_workspace(client.workspaces(token))
        except errors.ServiceError as exc:
            log.warning("workspace list unavailable for a %s account (%s)", token.region.code, exc.code)
            return None
        if found is not None:
            with self._lock:
                self._cache[key] = found
        return found
