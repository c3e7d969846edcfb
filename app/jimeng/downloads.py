"""HD (download) video URLs from `get_local_item_list` answers (2026 update, section 6).

History records carry a preview transcode (about 1.1 Mbit/s); the download URL (about 6.3 Mbit/s)
comes from `get_local_item_list` with the generated item id. Where the URL sits, in order:
1. the item's `video.video_model`, a JSON string whose `video_list.*.main_url` is base64 ([SB], live
   2026-09-30): the entry with the highest bitrate wins;
2. the paths iptag and [WZ] read: `transcoded_video.origin.video_url` (common_attr, then video),
   `download_url`, `play_url`, `url`;
3. a search of the item's raw text for Jimeng's video hosts (dreamnia first, then any
   `v<digits>-*.jimeng.com`, then `*.vlabvod.com`).

When the link expires: the `url_expire` of its `video_model` entry (or of the model), unix seconds,
about an hour after the answer (protocol 5.5); else a signed URL's `x-expires` query parameter; the
earlier when both are given. None when neither is.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.jimeng.history import ITEM_ID_PATHS, _dig, item_id_of
from app.jimeng.numbers import upstream_int

_URL_PATHS = (
    ("common_attr", "transcoded_video", "origin", "video_url"),
    ("video", "transcoded_video", "origin", "video_url"),
    ("video", "download_url"),
    ("video", "play_url"),
    ("video", "url"),
    ("download_url",),
    ("url",),
)
_URL_END = r"[^\s\"'\\<>]+"
_HOST_PATTERNS = (
    re.compile(r"https://v\d+-dreamnia\.jimeng\.com/" + _URL_END),
    re.compile(r"https://v\d+-[a-z0-9-]+\.jimeng\.com/" + _URL_END),
    re.compile(r"https://[a-z0-9.-]+\.vlabvod\.com/" + _URL_END),
)
MAX_VIDEO_MODEL_CHARS = 1_000_000
# A plausible expiry in unix seconds (2001 to 5138): anything else is not read as one.
_EXPIRY_RANGE = (1_000_000_000, 100_000_000_000)


@dataclass(frozen=True)
class HdLink:
    url: str
    expires_at: float | None = None     # unix seconds, when the answer says


def _expiry(value: Any) -> float | None:
    seconds = upstream_int(value, 0)
    return float(seconds) if _EXPIRY_RANGE[0] <= seconds < _EXPIRY_RANGE[1] else None


def _url_expiry(url: str) -> float | None:
    """A signed URL's `x-expires` (the image hosts' signatures carry it; some video ones too)."""
    try:
        values = parse_qs(urlsplit(url).query).get("x-expires")
    except ValueError:
        return None
    return _expiry(values[0]) if values else None


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) < 8192


def _decoded(main_url: Any) -> str | None:
    """A `main_url` is base64 of the URL ([SB]); a plain URL is taken as it is."""
    if _is_url(main_url):
        return main_url
    if not isinstance(main_url, str) or not main_url or len(main_url) > 16384:
        return None
    text = main_url.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None)
        url = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return url if _is_url(url) else None


def _from_video_model(item: dict) -> HdLink | None:
    model = _dig(item, ("video", "video_model"))
    if isinstance(model, str) and len(model) <= MAX_VIDEO_MODEL_CHARS:
        try:
            model = json.loads(model)
        except (ValueError, RecursionError):
            return None
    entries = _dig(model, ("video_list",))
    if not isinstance(entries, dict):
        return None
    best: tuple[int, str, dict] | None = None
    for entry in entries.values():
        if not isinstance(entry, dict):
            continue
        url = _decoded(entry.get("main_url")) or _decoded(entry.get("backup_url_1"))
        if url is None:
            continue
        rate = upstream_int(entry.get("bitrate") or entry.get("real_bitrate"), 0)
        if best is None or rate > best[0]:
            best = (rate, url, entry)
    if best is None:
        return None
    _, url, entry = best
    return HdLink(url, _expiry(entry.get("url_expire")) or _expiry(model.get("url_expire")))


def _url_of(item: dict) -> HdLink | None:
    link = _from_video_model(item)
    if link:
        return link
    for path in _URL_PATHS:
        value = _dig(item, path)
        if _is_url(value):
            return HdLink(value)
    try:
        text = json.dumps(item, ensure_ascii=False)
    except (ValueError, RecursionError):    # an item nested deeper than we can write back out
        return None
    text = text.replace("\\u0026", "&").replace("\\/", "/")
    for pattern in _HOST_PATTERNS:
        match = pattern.search(text)
        if match:
            return HdLink(match.group(0))
    return None


def hd_link_of(item: dict) -> HdLink | None:
    """The download URL of one `get_local_item_list` item, by the order in the module docstring, and
    when it expires."""
    link = _url_of(item)
    if link is None:
        return None
    known = [t for t in (link.expires_at, _url_expiry(link.url)) if t is not None]
    return HdLink(link.url, min(known) if known else None)


def hd_url_of(item: dict) -> str | None:
    link = hd_link_of(item)
    return link.url if link else None


def hd_links(data: dict, asked: list[str]) -> dict[str, HdLink]:
    """item id -> HD link for the items of one answer (`item_list`, or `local_item_list`).

    An item that names no id is matched only when exactly one id was asked for."""
    items = data.get("item_list")
    if not isinstance(items, list) or not items:
        items = data.get("local_item_list")
    if not isinstance(items, list):
        return {}
    found: dict[str, HdLink] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        # The answer may name the item by another of its id fields than the record did.
        named = [str(v) for v in (_dig(item, p) for p in ITEM_ID_PATHS) if isinstance(v, (str, int))]
        item_id = next((i for i in named if i in asked), item_id_of(item))
        if item_id is None and len(asked) == 1:
            item_id = asked[0]
        link = hd_link_of(item)
        if item_id in asked and link and item_id not in found:
            found[item_id] = link
    return found
