"""HAR files for the capture diff's tests, shaped as Chrome's "Save all as HAR" writes them (HTTP/2
pseudo headers, lower-case names, postData, a response with content). The e2e tests also record
real ones with Chromium."""
from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit


def entry(url: str, headers: dict[str, str] | list[tuple[str, str]], body: str | bytes | None = None,
          method: str = "POST", response_text: str = '{"ret":"0","errmsg":"success","data":{}}', *,
          cookies: list[dict] | None = None, response_headers: list[tuple[str, str]] = (),
          response_cookies: list[dict] | None = None) -> dict:
    """One entry; `headers` as a list to repeat a name; `cookies`: the request's cookies list (Chrome
    writes one beside its Cookie header; its sanitized export keeps the list, not the header)."""
    parts = urlsplit(url)
    pseudo = [{"name": ":authority", "value": parts.netloc}, {"name": ":method", "value": method},
              {"name": ":path", "value": parts.path + (f"?{parts.query}" if parts.query else "")},
              {"name": ":scheme", "value": parts.scheme}]
    pairs = headers.items() if isinstance(headers, dict) else headers
    request = {"method": method, "url": url, "httpVersion": "http/2.0",
               "headers": pseudo + [{"name": k.lower(), "value": v} for k, v in pairs],
               "queryString": [{"name": k, "value": v} for k, v in parse_qsl(parts.query, keep_blank_values=True)],
               "cookies": cookies or [], "headersSize": -1, "bodySize": len(body or "")}
    if body:
        text = body.decode() if isinstance(body, bytes) else body
        request["postData"] = {"mimeType": "application/json", "text": text}
    return {"startedDateTime": "2026-12-01T10:00:00.000Z", "time": 120.5, "request": request,
            "response": {"status": 200, "statusText": "", "httpVersion": "http/2.0",
                         "headers": [{"name": k, "value": v} for k, v in response_headers],
                         "cookies": response_cookies or [],
                         "content": {"size": len(response_text), "mimeType": "application/json",
                                     "text": response_text},
                         "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0.1, "wait": 100.0, "receive": 2.0}}


def har(*entries: dict) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [], "entries": list(entries)}}


def har_bytes(*entries: dict) -> bytes:
    return json.dumps(har(*entries)).encode()
