"""Reading a request body the same way for JSON and multipart/form-data."""
from __future__ import annotations

import json

from flask import request

from app import errors
from app.services.submitting import MediaInput

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
SMALL_BODY = 256 * 1024   # batch and token bodies: 100 ids of 128 characters are ~14 KB
LIST_FIELDS = ("file_paths", "filePaths", "images")   # repeated form fields that are lists


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
            fields[key] = values if key in LIST_FIELDS and len(values) > 1 else values[-1]
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


def prefers_wait() -> bool:
    return any(part.strip().lower() == "wait" for part in request.headers.get("Prefer", "").split(","))


def prefers_async() -> bool:
    """RFC 7240 `Prefer: respond-async`: answer at once with a task."""
    return any(part.strip().lower() == "respond-async" for part in request.headers.get("Prefer", "").split(","))
