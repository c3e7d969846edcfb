"""HD result URLs for completed video tasks: one `get_local_item_list` call per token.

A completed task's `result.url` becomes the download-quality URL and the history record's preview
stays as `result.preview_url`. Reading the HD URL is a nice-to-have on a finished task: when the
call fails, or Jimeng names no HD URL for an item, the task still answers completed, with the
preview as `url`, `hd: false` and the reason in `hd_error` (and a log line).

No cache: HD URLs are signed and expire (about an hour, protocol 5.5), and the service keeps no
task state; a repeated poll of a finished task asks Jimeng again.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.downloads import hd_urls
from app.jimeng.regions import Token

log = logging.getLogger(__name__)

# Item ids per call: a full default batch (100 tasks) is one call per token.
LOCAL_ITEMS_CHUNK = 100
NO_HD_URL = "Jimeng named no HD URL for this video; url is the preview"


def upgrade_to_hd(client: JimengClient, tasks: Iterable[tuple[object, Token | None]]) -> None:
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
    for token, states in by_token.values():
        ids = list(dict.fromkeys(s.record.item_id for s in states))
        found: dict[str, str] = {}
        failure: str | None = None
        for start in range(0, len(ids), LOCAL_ITEMS_CHUNK):
            chunk = ids[start:start + LOCAL_ITEMS_CHUNK]
            try:
                found.update(hd_urls(client.local_items(token, chunk), chunk))
            except errors.ServiceError as exc:
                # A read failure must not sink a finished task: the preview still plays. (The parser
                # itself is total: an unreadable answer simply names no URL.)
                failure = f"the HD link could not be read ({exc.message}); url is the preview"
                log.warning("HD result URLs unavailable (%s); answering preview URLs", exc.code)
        for state in states:
            url = found.get(state.record.item_id)
            if url:
                state.result["url"] = url
                state.result["hd"] = True
            else:
                _keep_preview(state, failure or NO_HD_URL)


def _keep_preview(state, reason: str) -> None:
    state.result["hd"] = False
    state.result["hd_error"] = reason
