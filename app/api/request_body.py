"""Reading a request body the same way for JSON and multipart/form-data."""
from __future__ import annotations

import json

from flask import current_app, g, request
from werkzeug.exceptions import HTTPException

from app import errors
from app.api import streamed_json
from app.schemas.strict import unknown_field_message
from app.services.submitting import MediaInput
from app.services.videos import VideoRequest

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
SMALL_BODY = 256 * 1024   # batch and token bodies: 100 ids of 128 characters are ~14 KB
LIST_FIELDS = ("file_paths", "filePaths", "images")   # repeated form fields that are lists
MAX_JSON_WITHOUT_MEDIA = 1024 * 1024   # a submit's JSON once its data URIs are taken out


class ServerInput:
    """The request body as the WSGI server hands it, with the server's own decoding errors as a 400.

    A server decodes chunked bodies while the app reads them, and raises its own exceptions when a
    chunk is broken (gunicorn: a chunk size of `zz` or `-1`). Werkzeug turns only OSError and
    ValueError into a 400; anything else would surface as a 500 in whichever reader met it (JSON,
    multipart, the streaming JSON parser). Every read of every route goes through here."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _reading(self, method, *args):
        try:
            return method(*args)
        except (OSError, ValueError, errors.ServiceError, HTTPException):
            # Werkzeug's own handling: a client that went away, a body cut short; and an answer the
            # server already chose (our worker's 408 for a body that arrives too slowly)
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the server raises, the body is unreadable
            raise errors.InvalidRequest(f"the request body cannot be read ({_reason(exc)})") from None

    def read(self, *args) -> bytes:
        return self._reading(self._stream.read, *args)

    def readline(self, *args) -> bytes:
        return self._reading(self._stream.readline, *args)

    def readlines(self, *args) -> list[bytes]:
        return self._reading(self._stream.readlines, *args)

    def __iter__(self):
        return iter(self.readline, b"")


def _reason(exc: Exception) -> str:
    name = type(exc).__name__
    return "broken chunked encoding" if "chunk" in name.lower() else name


def guarded_input(wsgi_app):
    """WSGI middleware: every request's body is read through ServerInput."""
    def app(environ, start_response):
        if environ.get("wsgi.input") is not None:
            environ["wsgi.input"] = ServerInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)
    return app


def body_fields(max_bytes: int | None = None, *, spool_data_uris: bool = False) -> dict:
    """The request's fields as a dict; 415 for other content types, 400 for broken JSON.

    `max_bytes` caps small-body routes below the app-wide limit that uploads need; the cap holds
    while the body streams, with or without Content-Length (413 past it). With `spool_data_uris`,
    data URIs in a JSON body are decoded to temporary files as the body streams (see
    `spooled_media`), as multipart files are.
    """
    mimetype = request.mimetype
    if max_bytes is not None:
        if (request.content_length or 0) > max_bytes:
            raise errors.PayloadTooLarge(f"this route takes at most {max_bytes // 1024} KB")
        request.max_content_length = max_bytes   # enforced on the stream itself: chunked bodies too
    try:
        return _fields(mimetype, spool_data_uris)
    finally:
        _refuse_if_cut()


def no_fields() -> None:
    """Routes that take no fields: no body, or an empty one (`{}`); a field sent is a 400 naming it,
    never silently ignored."""
    chunked = request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    if not request.content_length and not chunked:
        return
    fields = body_fields(SMALL_BODY)
    if fields:
        name = next(iter(fields))
        raise errors.InvalidRequest(f"{name}: {unknown_field_message(name, [])}", param=name)


def _refuse_if_cut() -> None:
    """Werkzeug stops a body without Content-Length at the cap without saying so: a body that
    filled the cap was cut, and is refused as too large rather than parsed half."""
    limit = request.max_content_length
    if limit and request.content_length is None and "stream" in request.__dict__ and request.stream.tell() >= limit:
        raise errors.PayloadTooLarge(f"the request body is larger than {limit // 1024} KB")


def _fields(mimetype: str, spool_data_uris: bool) -> dict:
    if mimetype == "application/json" or (mimetype.endswith("+json")):
        if spool_data_uris:
            data = _spooling_json()
        else:
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
        if mimetype == "multipart/form-data" and not request.mimetype_params.get("boundary"):
            # `curl -H 'Content-Type: multipart/form-data' -d '{...}'`: without a boundary Werkzeug reads
            # no field at all, and the request would be refused for a field it did send.
            raise errors.UnsupportedMediaType(
                "the multipart/form-data body has no boundary in its Content-Type, so none of its fields can "
                "be read. Let the client build the form (curl -F, requests' files=), or send JSON with "
                "'Content-Type: application/json'")
        if mimetype == "application/x-www-form-urlencoded" and any(
                key.lstrip().startswith(("{", "[")) for key in request.form):
            # `curl -d '{...}'` labels JSON as a form: its only field would be named by the JSON text.
            raise errors.UnsupportedMediaType(_not_json(mimetype))
        fields = {}
        for key in request.form:
            # Form fields are text: the literal "null" is how clients (and the spec's nullable
            # fields) say "not given", as JSON null does. A prompt may say "null" and mean it;
            # webhook_events is not nullable (null there is a 400, as in JSON).
            values = [v for v in request.form.getlist(key) if v != "null" or key in ("prompt", "webhook_events")]
            if not values:
                continue
            fields[key] = values if key in LIST_FIELDS and len(values) > 1 else values[-1]
        return fields
    if not mimetype and not request.get_data(cache=True):
        raise errors.InvalidRequest("the request has no body")
    raise errors.UnsupportedMediaType(_not_json(mimetype))


def _not_json(mimetype: str) -> str:
    """Why a body was not read as JSON, and the header that makes it so."""
    label = f"its Content-Type is {mimetype}" if mimetype else "it has no Content-Type"
    return (f"the body was not read as JSON: {label}. Send JSON with the header 'Content-Type: application/json' "
            "(curl: -H 'Content-Type: application/json'), or a form as multipart/form-data")


def _spooling_json():
    def chunks():
        while chunk := request.stream.read(streamed_json.CHUNK_BYTES):
            yield chunk

    spooled: dict = {}
    g.spooled_data_uris = spooled
    try:
        data, found = streamed_json.parse(chunks(), max_skeleton=MAX_JSON_WITHOUT_MEDIA,
                                          max_media_bytes=current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    except streamed_json.SkeletonTooLarge:
        raise errors.PayloadTooLarge(f"the JSON body, data URIs aside, is larger than "
                                     f"{MAX_JSON_WITHOUT_MEDIA // 1024} KB") from None
    except ValueError:
        raise errors.InvalidRequest("the body is not valid JSON") from None
    spooled.update(found)
    return data


def spooled_media(item: MediaInput) -> MediaInput:
    """`item` with its data URI swapped for the file it was decoded into while the body streamed."""
    entry = g.get("spooled_data_uris", {}).get(item.url or "")
    if entry is None:
        return item
    if entry.invalid:
        raise errors.InvalidRequest(f"{item.field}: the data URI's base64 is invalid", param=item.field)
    if entry.too_large:
        limit = current_app.config["MAX_UPLOAD_MB"]
        raise errors.PayloadTooLarge(f"{item.field} is larger than the {limit} MB limit", param=item.field)
    return MediaInput(field=item.field, stream=entry.file, declared_type=entry.declared_type)


def with_spooled_media(req: VideoRequest) -> VideoRequest:
    """Every media input of a video request that was a streamed data URI, as its decoded file."""
    req.images = [spooled_media(m) for m in req.images]
    req.materials = [spooled_media(m) for m in req.materials]
    for frame in req.frames:
        frame.media = spooled_media(frame.media)
    return req


def close_spooled() -> None:
    """Teardown: the temporary files of this request's data URIs."""
    for entry in g.pop("spooled_data_uris", {}).values():
        entry.file.close()


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


def prefers_async() -> bool:
    """RFC 7240 `Prefer: respond-async`: answer at once with a task."""
    return "respond-async" in _preferences()
