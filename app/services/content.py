"""Streaming a finished result through the service: Jimeng's URLs expire, and clients may not reach them.

A result URL comes from Jimeng's answer, so it is fetched as a caller's media URL is (`app.net.outbound`):
public addresses only, every redirect re-checked. With ALLOW_LOOPBACK_MEDIA (tests, the sandbox)
loopback passes, as for media.
"""
from __future__ import annotations

import base64
import threading

import requests

from app import errors
from app.net import outbound, sessions
from app.net.deadline import AnswerTooLarge, DeadlinePassed, Watch, read_body, timeouts

# One session per address rule, shared by every download: it keeps no cookies (outbound).
_sessions: dict[bool, requests.Session] = {}
_sessions_lock = threading.Lock()


def _session(allow_loopback: bool) -> requests.Session:
    with _sessions_lock:
        if allow_loopback not in _sessions:
            _sessions[allow_loopback] = sessions.public_session(
                allow_loopback, headers={"Accept-Encoding": "identity"}, pool_maxsize=32)
        return _sessions[allow_loopback]


# Labels that say nothing about the bytes: the route answers them as the kind's default type.
UNLABELLED = frozenset({"application/octet-stream", "binary/octet-stream"})
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")
CHUNK = 64 * 1024
# base64 answers hold the whole file (several times over while encoding): keep them modest.
MAX_B64_BYTES = 50 * 1024 * 1024


def open_result(url: str, *, range_header: str | None, timeout: float,
                allow_loopback: bool = False) -> requests.Response:
    """An open streamed response for the result URL (the caller closes it); its headers arrived
    within `timeout`, and it is labelled as a video or an image (a CDN error page is a 502). A URL
    or a redirect to an address that is not public is refused: a 502, nothing fetched from there."""
    headers = {"Range": range_header} if range_header else {}
    with Watch(timeout) as watch:
        try:
            resp = outbound.open_public(_session(allow_loopback), url, allow_loopback=allow_loopback,
                                        timeouts=lambda: timeouts(5, timeout, watch), headers=headers)
        except (outbound.BadURL, outbound.Refused) as exc:
            raise errors.UpstreamError(f"refused to download the result: its URL {exc.reason}"
                                       if isinstance(exc, outbound.BadURL) else
                                       f"refused to download the result: {exc.reason}") from None
        except (outbound.TimedOut, outbound.Unreachable) as exc:
            if watch.fired or isinstance(exc, outbound.TimedOut):
                raise errors.UpstreamTimeout("the video host did not answer in time") from None
            raise errors.UpstreamUnavailable("the video host cannot be reached") from None
    if resp.status_code not in (200, 206):
        resp.close()
        if resp.status_code == 416:
            raise errors.InvalidRequest("the requested range is not satisfiable", param="Range")
        if resp.status_code in (403, 404, 410):
            raise errors.UpstreamError("the video link has expired upstream; query the task again for a fresh one")
        raise errors.UpstreamError(f"the video host answered HTTP {resp.status_code}")
    media_type = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media_type and media_type not in UNLABELLED and not media_type.startswith(("video/", "image/")):
        resp.close()
        raise errors.UpstreamError(f"the video host answered with {media_type[:60]}, not a video or an image")
    return resp


def read_base64(url: str, *, timeout: float, allow_loopback: bool = False) -> str:
    """The whole result as base64, for old clients' answers; capped at MAX_B64_BYTES, read within
    `timeout` (headers and body); a connection broken mid-body is a 502."""
    resp = open_result(url, range_header=None, timeout=timeout, allow_loopback=allow_loopback)
    with Watch(timeout) as watch:
        watch.attach(resp.raw.connection)
        try:
            data = read_body(resp, watch, MAX_B64_BYTES)
        except AnswerTooLarge:
            raise errors.PayloadTooLarge("the result is too large to send as base64; use the url") from None
        except DeadlinePassed:
            raise errors.UpstreamTimeout("the video host did not send the whole result in time") from None
        except requests.RequestException:
            raise errors.UpstreamError("the connection to the video host broke while reading the result") from None
    return base64.b64encode(data).decode("ascii")
