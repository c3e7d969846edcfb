"""Streaming a finished result through the service: Jimeng's URLs expire, and clients may not reach them."""
from __future__ import annotations

import base64

import requests
from requests.adapters import HTTPAdapter

from app import errors
from app.jimeng.client import no_cookie_jar


def _download_session() -> requests.Session:
    """Shared by all users: so it keeps no cookies and reads no proxy or .netrc from the environment."""
    session = requests.Session()
    session.cookies = no_cookie_jar()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


_session = _download_session()
PASSED_HEADERS = ("Content-Type", "Content-Length", "Content-Range", "Accept-Ranges", "Last-Modified", "ETag")
CHUNK = 64 * 1024
# base64 answers hold the whole file (several times over while encoding): keep them modest.
MAX_B64_BYTES = 50 * 1024 * 1024


def open_result(url: str, *, range_header: str | None, timeout: float) -> requests.Response:
    """An open streamed response for the result URL (the caller closes it)."""
    headers = {"Range": range_header} if range_header else {}
    try:
        resp = _session.get(url, headers=headers, stream=True, timeout=(5, timeout))
    except requests.Timeout:
        raise errors.UpstreamTimeout("the video host did not answer in time") from None
    except requests.RequestException:
        raise errors.UpstreamUnavailable("the video host cannot be reached") from None
    if resp.status_code not in (200, 206):
        resp.close()
        if resp.status_code == 416:
            raise errors.InvalidRequest("the requested range is not satisfiable", param="Range")
        if resp.status_code in (403, 404, 410):
            raise errors.UpstreamError("the video link has expired upstream; query the task again for a fresh one")
        raise errors.UpstreamError(f"the video host answered HTTP {resp.status_code}")
    return resp


def read_base64(url: str, *, timeout: float) -> str:
    """The whole result as base64, for old clients' answers; capped at MAX_B64_BYTES."""
    resp = open_result(url, range_header=None, timeout=timeout)
    with resp:
        chunks, size = [], 0
        for chunk in resp.iter_content(CHUNK):
            size += len(chunk)
            if size > MAX_B64_BYTES:
                raise errors.PayloadTooLarge("the result is too large to send as base64; use the url")
            chunks.append(chunk)
    return base64.b64encode(b"".join(chunks)).decode("ascii")
