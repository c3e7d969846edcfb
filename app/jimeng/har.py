"""A browser's network capture (a HAR file, DevTools "Save all as HAR") read as the calls it made.

The file is read as it streams (ijson): only each entry's request is built, so the response bodies
that make most of a capture's size are never held. Cookies and session ids stay inside the calls
read here (the diff compares them by presence only); nothing of a capture is stored.
"""
from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import ijson

from app.errors import InvalidCapture
from app.jimeng.calls import API_PREFIXES
from app.jimeng.regions import REGIONS

MAX_BODY_CHARS = 4 * 1024 * 1024      # a request body larger than this is kept as "present" only
# Hosts of Jimeng's and Dreamina's API (every cluster: jimeng.jianying.com, mweb-api-sg.capcut.com,
# dreamina-api-us-ttp2.us.capcut.com, commerce-...): a capture comes from the real site, whatever
# JIMENG_UPSTREAM_URL says.
JIMENG_HOST_SUFFIXES = ("jianying.com", "capcut.com")
# Cookies that carry a session (masked wherever a capture's text could show up).
SESSION_COOKIES = ("sessionid", "sessionid_ss", "sid_tt", "sid_guard", "uid_tt", "uid_tt_ss", "sid_ucp_v1",
                   "ssid_ucp_v1", "passport_csrf_token", "passport_csrf_token_default", "msToken")
_REQUEST = "log.entries.item.request"


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


@dataclass(frozen=True)
class Capture:
    """Every request of a HAR file, in order."""

    calls: tuple[CapturedCall, ...]


def read_har(stream: BinaryIO, field: str | None = None) -> Capture:
    """The requests of a HAR file; InvalidCapture when it is not JSON or not a HAR. Errors name
    `field` (a multipart file's field), or for a HAR sent as the body, the HAR's own `log`."""
    calls: list[CapturedCall] = []
    seen_entries = False
    builder: ijson.ObjectBuilder | None = None
    first = True
    reads = _Reads(stream)
    try:
        for prefix, event, value in ijson.parse(reads, use_float=True):
            if first:
                first = False
                if event != "start_map":
                    raise InvalidCapture("the capture is JSON but not a HAR: a HAR file is one object "
                                         "{\"log\": {\"entries\": [...]}}", param=field)
            if prefix == "log.entries" and event == "start_array":
                seen_entries = True
            elif prefix == _REQUEST and event == "start_map":
                builder = ijson.ObjectBuilder()
            if builder is not None:
                builder.event(event, value)
                if prefix == _REQUEST and event == "end_map":
                    call = _call(builder.value)
                    if call is not None:
                        calls.append(call)
                    builder = None
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
    return Capture(tuple(calls))


class _Reads:
    """A stream as ijson reads it: its probe `read(0)` answered without touching the stream
    (Werkzeug's request stream takes an empty read for a client that went away)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size) if size else b""
        self.size += len(chunk)
        return chunk


def _call(request: object) -> CapturedCall | None:
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        return None
    headers = [(str(h.get("name", "")), str(h.get("value", ""))) for h in request.get("headers") or []
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
        path=parts.path or "/", query=tuple(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
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
    """The values of the capture's session cookies: masked in every log line while it is handled."""
    found = set()
    for call in calls:
        cookie = call.header("cookie") or ""
        for pair in cookie.split(";"):
            name, sep, value = pair.strip().partition("=")
            if sep and name in SESSION_COOKIES and value:
                found.add(urllib.parse.unquote(value).split("|")[0])
                found.add(value)
    return found
