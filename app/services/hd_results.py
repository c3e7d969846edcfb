"""HD result URLs for completed video tasks: looked up once, kept until shortly before they expire.

A completed task's `result.url` becomes the download-quality URL and the history record's preview
stays as `result.preview_url`. Reading the HD URL is a nice-to-have on a finished task: when the
call fails, or Jimeng names no HD URL for an item, the task still answers completed, with the
preview as `url`, `hd: false` and the reason in `hd_error` (and a log line).

A finished task's HD link does not change until it expires, so it is asked for once
(`get_local_item_list`, one call per token for all of a query's items not known yet) and kept in
the shared state, where every worker (and with Redis every host) finds it: a poll of a finished
video then costs the one history call a poll of any task costs. This is the one place every route
reads HD links through (task, batch and `?ids=` queries, the OpenAI routes, blocking mode, `/content`).
- Kept until EXPIRY_MARGIN before the expiry the answer names (app.jimeng.downloads), so a link
  handed out stays usable at least that long; when the answer names none, DEFAULT_KEEP (links
  lasted about an hour after the answer, protocol 5.5); never longer than MAX_KEEP.
- Keyed by an HMAC of the account's fingerprint and the item id: one account never reads another's
  link, and the store never sees a session id.
- A failed lookup, or an item Jimeng names no HD URL for, is remembered for FAILURE_KEEP: a storm of
  polls does not ask again each time, and the next poll after it does.
- The shared state out of reach only costs the cache: the lookup is made, the answer not kept.
- No per-process copy in front: a query's read is one get_many (SQLite: about 15 us for a key, 0.1 ms
  for 64; bench/bench_state.py) against about 1.5 ms of CPU per poll, and the bench's finished storm
  costs no more CPU per poll than the storm on tasks in progress.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.downloads import hd_links
from app.jimeng.regions import Token
from app.task_ids import derive_key

if TYPE_CHECKING:
    from app.services.tasks import TaskSettings

log = logging.getLogger(__name__)

# Item ids per call: a full default batch (100 tasks) is one call per token.
LOCAL_ITEMS_CHUNK = 100
NO_HD_URL = "Jimeng named no HD URL for this video; url is the preview"
EXPIRY_MARGIN = 600.0          # seconds a link handed out from the cache stays valid at least
DEFAULT_KEEP = 1800.0          # the answer names no expiry: half the hour links were seen to last
MAX_KEEP = 6 * 3600.0          # a link that claims to last longer is asked for again after this
FAILURE_KEEP = 30.0            # a failed lookup (or no HD URL named) is asked again after this
_LINK, _FAILURE = "+", "-"     # stored values: "+<url>" or "-<reason>"


def upgrade_to_hd(client: JimengClient, tasks: Iterable[tuple[object, Token | None]],
                  settings: TaskSettings) -> None:
    """Give each completed video task (a TaskState and the token that found it) its HD URL."""
    by_token: dict[int, tuple[Token, list]] = {}
    for state, token in tasks:
        record = getattr(state, "record", None)
        if token is None or state.status != "completed" or not state.result or record is None:
            continue
        state.result["preview_url"] = state.result["url"]
        if not record.item_id:
            _keep_preview(state, NO_HD_URL)
            continue
        by_token.setdefault(id(token), (token, []))[1].append(state)
    if not by_token:
        return
    link_key = derive_key(settings.secret_key, "hd-link")
    keys = {(id(token), s.record.item_id): _cache_key(link_key, token, s.record.item_id)
            for token, states in by_token.values() for s in states}
    known = _read(settings, keys.values())
    fresh: list[tuple[str, str, float]] = []
    for token, states in by_token.values():
        item_ids = dict.fromkeys(s.record.item_id for s in states)
        missing = [i for i in item_ids if keys[(id(token), i)] not in known]
        if missing:
            answers = _look_up(client, token, missing, settings)
            for item_id, (value, ttl) in answers.items():
                known[keys[(id(token), item_id)]] = value
                if ttl > 0:
                    fresh.append((keys[(id(token), item_id)], value, ttl))
        for state in states:
            value = known[keys[(id(token), state.record.item_id)]]
            if value.startswith(_LINK):
                state.result["url"] = value[1:]
                state.result["hd"] = True
            else:
                _keep_preview(state, value[1:])
    _write(settings, fresh)


def _look_up(client: JimengClient, token: Token, item_ids: list[str],
             settings: TaskSettings) -> dict[str, tuple[str, float]]:
    """item id -> (stored value, seconds to keep it) for items not known yet: one call per chunk."""
    now = settings.clock()
    answers: dict[str, tuple[str, float]] = {}
    for start in range(0, len(item_ids), LOCAL_ITEMS_CHUNK):
        chunk = item_ids[start:start + LOCAL_ITEMS_CHUNK]
        try:
            found = hd_links(client.local_items(token, chunk), chunk)
        except errors.ServiceError as exc:
            # A read failure must not sink a finished task: the preview still plays. (The parser
            # itself is total: an unreadable answer simply names no URL.)
            log.warning("HD result URLs unavailable (%s); answering preview URLs", exc.code)
            reason = f"the HD link could not be read ({exc.message}); url is the preview"
            answers.update((i, (_FAILURE + reason, FAILURE_KEEP)) for i in chunk)
            continue
        for item_id in chunk:
            link = found.get(item_id)
            if link is None:
                answers[item_id] = (_FAILURE + NO_HD_URL, FAILURE_KEEP)
                continue
            keep = DEFAULT_KEEP if link.expires_at is None else link.expires_at - now - EXPIRY_MARGIN
            answers[item_id] = (_LINK + link.url, min(keep, MAX_KEEP))
    return answers


def _cache_key(link_key: bytes, token: Token, item_id: str) -> str:
    mac = hmac.new(link_key, token.fingerprint(link_key) + b"\0" + item_id.encode(), hashlib.sha256)
    return "hd:" + mac.hexdigest()[:32]


def _read(settings: TaskSettings, keys: Iterable[str]) -> dict[str, str]:
    if settings.state is None:
        return {}
    try:
        return settings.state.get_many(keys)
    except errors.StateUnavailable:
        log.warning("HD links not read from the shared state (unavailable); asking Jimeng")
        return {}


def _write(settings: TaskSettings, items: list[tuple[str, str, float]]) -> None:
    if settings.state is None or not items:
        return
    try:
        settings.state.put_many(items)
    except errors.StateUnavailable:
        log.warning("HD links not kept: shared state unavailable")


def _keep_preview(state, reason: str) -> None:
    state.result["hd"] = False
    state.result["hd_error"] = reason
