"""A browser's network capture (a HAR file, DevTools "Save all as HAR") read as the calls it made.

The file is read as it streams (ijson's events, without its dotted prefixes, whose cost grows with
the square of the nesting): only each entry's request is built, so the response bodies that make
most of a capture's size are never held, and a capture nested deeper than any HAR is refused at
once. The cookies a capture carries (Cookie and Set-Cookie headers, the `cookies` lists Chrome's
sanitized export keeps) are gathered as its secrets, to be masked and never proposed as settings;
nothing of a capture is stored.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

from app.errors import InvalidCapture
from app.jimeng.calls import API_PREFIXES
from app.jimeng.capture_secrets import cookie_values, listed_cookie_values, set_cookie_values
from app.jimeng.regions import REGIONS
from app.serving.logs import MIN_SECRET_LENGTH

MAX_BODY_CHARS = 4 * 1024 * 1024      # a request body larger than this is kept as "present" only
# Nesting a HAR may have: DevTools' deepest part, an async stack trace (`_initiator.stack.parent...`,
# 32 parents at most), is about 40 levels deep. Deeper is refused before it costs anything.
MAX_DEPTH = 100
# Headers, or query parameters, kept of one request: a browser sends a few dozen; past this, the diff
# says the call has too many to compare (and reading them costs nothing more).
MAX_FIELDS = 1000
# Distinct cookie values a capture may carry (each spelling counted): a browser's capture of one action
# carries a few dozen to a few hundred. Every one is masked in each log line and each text of the
# report, at a cost growing with their number; past this bound the capture is refused.
MAX_SECRETS = 1000
# Hosts of Jimeng's and Dreamina's API (every cluster: jimeng.jianying.com, mweb-api-sg.capcut.com,
# dreamina-api-us-ttp2.us.capcut.com, commerce-...): a capture comes from the real site, whatever
# JIMENG_UPSTREAM_URL says.
JIMENG_HOST_SUFFIXES = ("jianying.com", "capcut.com")
# Where an entry's parts are, as paths of keys (or "item"), from the top object (""): the request is
# built; a response's headers and cookies are read for the cookies they set.
_ENTRIES = ["", "log", "entries"]
_REQUEST = ["", "log", "entries", "item", "request"]
_RESPONSE_HEADERS = ["", "log", "entries", "item", "response", "headers"]
_RESPONSE_COOKIES = ["", "log", "entries", "item", "response", "cookies"]
_BUILT = (_REQUEST, _RESPONSE_HEADERS, _RESPONSE_COOKIES)
_LOOKED_AT = {len(path) for path in (_ENTRIES, *_BUILT)}


@dataclass(frozen=True)
class CapturedCall:
    """One request of a capture, as the browser sent it."""

    method: str
    url: str
    host: str                               # lower case, without port
    netloc: str                             # host[:port] as in the URL, lower case
    path: str
    query: tuple[tuple[str, str], ...]      # decoded, in order
    headers: tuple[tuple[str, str], ...]    # as captured (HTTP/2 pseudo headers left out)
    body: str | None                        # text; None when there was none (or it was binary)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)

    def headers_named(self, name: str) -> list[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]


@dataclass(frozen=True)
class Capture:
    """Every request of a HAR file, in order, and the values of every cookie it carries."""

    calls: tuple[CapturedCall, ...]
    secrets: frozenset[str] = field(default_factory=frozenset)


def read_har(stream: BinaryIO, field: str | None = None, *, pause: Callable[[], None] | None = None) -> Capture:
    """The requests of a HAR file; InvalidCapture when it is not JSON, not a HAR, or nested deeper than
    MAX_DEPTH. Errors name `field` (a multipart file's field), or for a HAR sent as the body, the
    HAR's own `log`. `pause` is called between the chunks read (the caller's chance to let others run)."""
    calls: list[CapturedCall] = []
    secrets: set[str] = set()
    names: list[str] = []          # the key (or "item") of each open container, outermost first
    arrays: list[bool] = []        # whether each open container is an array
    key = ""
    seen_entries = False
    builder: ijson.ObjectBuilder | None = None
    built_at = 0                   # the nesting of the container being built
    first = True
    reads = _Reads(stream, pause)
    try:
        for event, value in ijson.basic_parse(reads, use_float=True):
            if first:
                first = False
                if event != "start_map":
                    raise InvalidCapture("the capture is JSON but not a HAR: a HAR file is one object "
                                         "{\"log\": {\"entries\": [...]}}", param=field)
            if event == "map_key":
                key = value
            elif event == "start_map" or event == "start_array":
                if len(names) >= MAX_DEPTH:
                    raise InvalidCapture(f"the capture is nested deeper than {MAX_DEPTH} levels, which no HAR "
                                         f"file is; export it with DevTools > Network > \"Save all as HAR\"",
                                         param=field)
                names.append("item" if arrays and arrays[-1] else key)
                arrays.append(event == "start_array")
                if builder is None and len(names) in _LOOKED_AT:
                    if names == _ENTRIES:
                        seen_entries = seen_entries or event == "start_array"
                    elif names in _BUILT:
                        builder, built_at = ijson.ObjectBuilder(), len(names)
            if builder is not None:
                builder.event(event, value)
                if len(names) == built_at and (event == "end_map" or event == "end_array"):
                    _take(names, builder.value, calls, secrets, field)
                    builder = None
            if event == "end_map" or event == "end_array":
                names.pop()
                arrays.pop()
    except ijson.JSONError:
        if not reads.size:
            raise InvalidCapture("the capture is empty", param=field) from None
        raise InvalidCapture("the capture is not valid JSON; export it with DevTools > Network > "
                             "\"Save all as HAR\"", param=field) from None
    except (UnicodeDecodeError, RecursionError):
        raise InvalidCapture("the capture is not valid UTF-8 JSON", param=field) from None
    if first:
        raise InvalidCapture("the capture is empty", param=field)
    if not seen_entries:
        raise InvalidCapture("the capture is JSON but not a HAR: it has no log.entries list "
                             "(DevTools > Network > \"Save all as HAR\")", param=field or "log.entries")
    for call in calls:
        for cookie in call.headers_named("cookie"):
            _keep(secrets, cookie_values(cookie), field)
    return Capture(tuple(calls), frozenset(secrets))


def _keep(secrets: set[str], values: Iterable[str], field: str | None) -> None:
    """Add the cookie values long enough to mask; InvalidCapture as soon as they pass MAX_SECRETS."""
    for value in values:
        if len(value) < MIN_SECRET_LENGTH:
            continue
        secrets.add(value)
        if len(secrets) > MAX_SECRETS:
            raise InvalidCapture(f"the capture carries more than {MAX_SECRETS:,} distinct cookie values, which "
                                 f"a browser's capture of one action does not: record only the action that fails",
                                 param=field)


def _take(names: list[str], built: Any, calls: list[CapturedCall], secrets: set[str], field: str | None) -> None:
    """A built part of an entry: its request as a call, a response's headers and cookies as secrets."""
    if names == _REQUEST:
        call = _call(built)
        if call is not None:
            calls.append(call)
        if isinstance(built, dict):
            _keep(secrets, listed_cookie_values(built.get("cookies")), field)
    elif names == _RESPONSE_HEADERS and isinstance(built, list):
        for header in built:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == "set-cookie":
                _keep(secrets, set_cookie_values(str(header.get("value", ""))), field)
    elif names == _RESPONSE_COOKIES:
        _keep(secrets, listed_cookie_values(built), field)


class _Reads:
    """A stream as ijson reads it: its probe `read(0)` answered without touching the stream
    (Werkzeug's request stream takes an empty read for a client that went away), a pause after each chunk."""

    def __init__(self, stream: BinaryIO, pause: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self.pause = pause
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if self.pause is not None and self.size:
            self.pause()
        chunk = self.stream.read(size) if size else b""
        self.size += len(chunk)
        return chunk


def _call(request: object) -> CapturedCall | None:
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        return None
    listed = request.get("headers") if isinstance(request.get("headers"), list) else []
    headers = [(str(h.get("name", "")), str(h.get("value", ""))) for h in listed[:MAX_FIELDS + 1]
               if isinstance(h, dict)]
    post = request.get("postData") if isinstance(request.get("postData"), dict) else {}
    text = post.get("text")
    body = text if isinstance(text, str) and len(text) <= MAX_BODY_CHARS else None
    return captured_call(str(request.get("method") or "GET"), request["url"], headers, body)


def captured_call(method: str, url: str, headers: Iterable[tuple[str, str]], body: str | None) -> CapturedCall | None:
    """A CapturedCall from its parts (a HAR entry, or a request the doctor's page witness saw)."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    return CapturedCall(
        method=method.upper(), url=url, host=host, netloc=parts.netloc.rpartition("@")[2].lower(),
        path=parts.path or "/", query=tuple(urllib.parse.parse_qsl("&".join(parts.query.split("&", MAX_FIELDS + 1)[
            :MAX_FIELDS + 1]), keep_blank_values=True)),
        headers=tuple((name, value) for name, value in headers if name and not name.startswith(":")),
        body=body if body else None)


def is_jimeng_api(call: CapturedCall, extra_netlocs: Iterable[str] = ()) -> bool:
    """A call to Jimeng's API: a Jimeng or Dreamina host (or the configured upstream's), an API path."""
    if not call.path.startswith(API_PREFIXES):
        return False
    if call.netloc in extra_netlocs:
        return True
    return any(call.host == suffix or call.host.endswith("." + suffix) for suffix in JIMENG_HOST_SUFFIXES)


def region_of(call: CapturedCall) -> str:
    """Which of our regions a captured call is for: its `region` query, else its host."""
    query = dict(call.query)
    named = query.get("region", "").lower()
    if named in REGIONS:
        return named
    if query.get("aid") == str(REGIONS["cn"].aid) or call.host.endswith("jianying.com"):
        return "cn"
    if ".us." in call.host or "-us-" in call.host:
        return "us"
    return "sg" if call.host.endswith("capcut.com") else "cn"


def session_values(calls: Iterable[CapturedCall]) -> set[str]:
    """The values of every cookie the calls' Cookie headers carry (all of them, quoted or not)."""
    found: set[str] = set()
    for call in calls:
        for cookie in call.headers_named("cookie"):
            found.update(cookie_values(cookie))
    return found
