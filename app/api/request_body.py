"""Reading a request body the same way for JSON and multipart/form-data."""
from __future__ import annotations

import json

from flask import request

from app import errors
from app.services.videos import MediaInput

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
SMALL_BODY = 256 * 1024   # batch and token bodies: 100 ids of 128 characters are ~14 KB


def body_fields(max_bytes: int | None = None) -> dict:
    """The request's fields as a dict; 415 for other content types, 400 for broken JSON.

    `max_bytes` caps small-body routes below the app-wide limit that uploads need.
    """
    mimetype = request.mimetype
    if max_bytes is not None and (request.content_length or 0) > max_bytes:
        raise errors.PayloadTooLarge(f"this route takes at most {max_bytes // 1024} KB")
    if mimetype == "application/json" or (mimetype.endswith("+json")):
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # absurdly nested JSON
            data = None
        if data is None and request.get_data(cache=True).strip() != b"null":
            raise errors.InvalidRequest("the body is not valid JSON")
        if not isinstance(data, dict):
            raise errors.InvalidRequest("the JSON body must be an object")
        try:  # lone surrogates parse as JSON but cannot be sent on as UTF-8
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise errors.InvalidRequest("the body contains invalid Unicode (a lone surrogate)") from None
        return data
    if mimetype in FORM_TYPES:
        fields = {}
        for key in request.form:
            values = request.form.getlist(key)
            fields[key] = values if key in ("file_paths", "filePaths") and len(values) > 1 else values[-1]
        return fields
    if not mimetype and not request.get_data(cache=True):
        raise errors.InvalidRequest("the request has no body")
    raise errors.UnsupportedMediaType(f"send application/json or multipart/form-data, not {mimetype or 'nothing'}")


def uploaded_files() -> list[MediaInput]:
    """Uploaded files in upload order, each named by its form field."""
    files = []
    for name, storage in request.files.items(multi=True):
        if not storage or not storage.filename:
            continue
        files.append(MediaInput(field=name, stream=storage.stream, filename=storage.filename,
                                declared_type=storage.mimetype or None))
    return files


def _preferences() -> dict[str, str]:
    """RFC 7240 `Prefer` header(s): name -> value ("" when bare); parameters after ';' are ignored."""
    found = {}
    for header in request.headers.getlist("Prefer"):
        for part in header.split(","):
            name, _, value = part.split(";")[0].strip().partition("=")
            if name:
                found.setdefault(name.strip().lower(), value.strip().strip('"'))
    return found


def prefers_wait() -> bool:
    """The old bare `Prefer: wait`: block until the task ends (up to WAIT_TIMEOUT)."""
    return _preferences().get("wait") == ""


def preferred_wait_seconds(cap: float) -> int | None:
    """`Prefer: wait=N` (RFC 7240): wait up to N seconds (at most `cap`), then answer whatever the
    state is. None when the client did not ask; a malformed value is ignored, as the RFC says."""
    value = _preferences().get("wait")
    if not value or not value.isdigit():
        return None
    return int(min(int(value[:9]), cap))
