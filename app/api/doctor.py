"""The doctor's routes: read-only probes of the caller's accounts, and the capture diff of a HAR file."""
from __future__ import annotations

import time

from flask import current_app, request
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.jimeng.har import read_har
from app.serving.logs import remember_secrets
from app.services.capture_diff import diff_capture
from app.services.doctor import DoctorSettings, examine

blp = Blueprint("doctor", __name__, url_prefix="/v1/doctor", description="What moved at Jimeng, and what to set")

CAPTURE_MAX_BYTES = 50 * 1024 * 1024
_CHECK = {"type": "object", "properties": {
    "name": {"type": "string", "enum": ["login", "credits", "history", "catalogue", "upload", "workspace", "browser",
                                        "page_witness"]},
    "status": {"type": "string", "enum": ["ok", "failed", "skipped"]},
    "code": {"type": "string", "nullable": True, "description": "our error code (see Errors) when it failed"},
    "message": {"type": "string"}, "fix": {"type": "string", "nullable": True, "description": "what to do"},
    "ms": {"type": "integer"},
    "settings": {"type": "array", "items": {"type": "string"},
                 "description": "page_witness: NAME=value lines that make our calls like the page's"},
    "comparison": {"type": "array", "items": {"type": "object"}, "description": "page_witness: as the capture diff's"}}}
_DOCTOR = {"type": "object", "properties": {
    "ok": {"type": "boolean"}, "checked_at": {"type": "integer"},
    "accounts": {"type": "array", "items": {"type": "object", "properties": {
        "account": {"type": "string", "description": "masked"}, "region": {"type": "string"},
        "label": {"type": "string", "description": "company mode: the pool account's label"},
        "ok": {"type": "boolean"}, "checks": {"type": "array", "items": _CHECK}}}}}}
_DIFFERENCE = {"type": "object", "properties": {
    "where": {"type": "string", "enum": ["query", "header", "body"]},
    "name": {"type": "string", "description": "a parameter or header name, or a dotted body path"},
    "ours": {"type": "string", "nullable": True}, "theirs": {"type": "string", "nullable": True},
    "setting": {"type": "string", "nullable": True, "description": "NAME=value that makes ours like theirs"},
    "note": {"type": "string"}}}
_NOT_COMPARED = {"type": "object", "properties": {
    "where": {"type": "string", "enum": ["query", "header", "body", "call"]},
    "name": {"type": "string", "description": "(query), (headers), (body), or (differences): those past the "
                                              "ones listed"},
    "reason": {"type": "string"}}}
_HAR = {"type": "object", "required": ["log"], "description": "a HAR file (DevTools > Network > \"Save all as "
                                                               "HAR\"), at most 50 MB",
        "properties": {"log": {"type": "object", "required": ["entries"], "properties": {
            "entries": {"type": "array", "items": {"type": "object"}}}}}}
_REPORT = {"type": "object", "properties": {
    "summary": {"type": "string"}, "requests": {"type": "integer"}, "jimeng_calls": {"type": "integer"},
    "comparison": {"type": "array", "items": {"type": "object", "properties": {
        "call": {"type": "string"}, "path": {"type": "string"}, "seen": {"type": "integer"},
        "status": {"type": "string", "enum": ["same", "different", "partly_compared", "not_built"],
                   "description": "partly_compared: no difference in what was compared, but parts were "
                                  "not compared (see not_compared)"},
        "reason": {"type": "string", "description": "not_built: why we could not build ours"},
        "differences": {"type": "array", "items": _DIFFERENCE},
        "not_compared": {"type": "array", "items": _NOT_COMPARED,
                         "description": "what a bound of the comparison left out, and why"}}}},
    "calls_we_never_make": {"type": "array", "items": {"type": "object", "properties": {
        "path": {"type": "string"}, "seen": {"type": "integer"}}}},
    "settings": {"type": "array", "items": {"type": "string"},
                 "description": "the settings to apply, ready to paste as NAME=value lines"}}}


@blp.get("")
@blp.doc(security=[{"bearer": []}], responses={"200": {
    "description": "every check of every account; 200 even when checks failed",
    "content": {"application/json": {"schema": _DOCTOR}}}})
def doctor():
    """Read-only probes of each of the caller's accounts, at once under one deadline (DOCTOR_TIMEOUT):
    login, credits, history, the live catalogue, upload credentials, workspace (abroad) and, with the
    browser transport on, Jimeng's page (ready to sign, and what its own calls send compared with ours).
    Nothing is generated and no credit is spent. Company mode: admin API keys check every pool account."""
    tokens = context.account_tokens()
    cfg = context.config()
    client = context.client()
    settings = DoctorSettings(timeout=cfg.DOCTOR_TIMEOUT, upstream_url=cfg.JIMENG_UPSTREAM_URL, wire=client.wire,
                              clock=current_app.extensions.get("clock") or time.time)
    return examine(client, tokens, settings).as_dict()


@blp.post("/capture")
@blp.doc(security=[{"bearer": []}], requestBody={"required": True, "content": {
    "application/json": {"schema": _HAR},
    "multipart/form-data": {"schema": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary", "description": "the HAR file"}}}}}},
    responses={"200": {"description": "the comparison; empty, and saying so, when the capture holds no Jimeng call",
                       "content": {"application/json": {"schema": _REPORT}}}})
def capture():
    """Compare a browser's Jimeng calls (a HAR file) with what our client sends for the same calls: every
    differing query parameter, header and JSON body field (draft_content's inside too), each with the
    setting that controls it, ending with the settings to apply. Random and per-session values are
    compared by presence only; so is every value holding one of the capture's cookies (from its Cookie
    and Set-Cookie headers or its `cookies` lists, in any encoding) or shaped like a session id: they
    never appear in the answer, the settings or the logs, and nothing of the capture is kept. A
    capture nested deeper than 100 levels, or carrying more than 1,000 cookie values, is refused (400
    `invalid_capture`); a body over the comparison's bounds (1 MB, 64 levels, 20,000 values, 4 MB in
    all) is listed in `not_compared`."""
    context.account_tokens()     # who may: as GET /v1/doctor
    if (request.content_length or 0) > CAPTURE_MAX_BYTES:
        raise errors.PayloadTooLarge(f"a capture takes at most {CAPTURE_MAX_BYTES // (1024 * 1024)} MB")
    request.max_content_length = CAPTURE_MAX_BYTES
    if request.mimetype == "multipart/form-data":
        other = next((name for name in [*request.files, *request.form] if name != "file"), None)
        if other is not None:
            raise errors.InvalidCapture(f"{other}: unknown field; the HAR file goes in the multipart field 'file'",
                                        param=other)
        upload = request.files.get("file")
        if upload is None:
            raise errors.InvalidCapture("send the HAR file in the multipart field 'file'", param="file")
        stream, field = upload.stream, "file"
    else:
        stream, field = request.stream, None
    pause = Pacer()
    try:
        parsed = read_har(stream, field, pause=pause)
    except errors.InvalidCapture:
        if request.content_length is None and request.stream.tell() >= CAPTURE_MAX_BYTES:
            raise errors.PayloadTooLarge(f"a capture takes at most {CAPTURE_MAX_BYTES // (1024 * 1024)} MB") from None
        raise
    remember_secrets(parsed.secrets)   # every cookie of the capture: masked in every log line from here on
    return diff_capture(parsed.calls, upstream_url=context.config().JIMENG_UPSTREAM_URL, wire=context.client().wire,
                        secrets=parsed.secrets, pause=pause).as_dict()


class Pacer:
    """Called often while a capture is read and compared (seconds of CPU for the largest), it sleeps
    a moment once every SLICE_S of work: under gunicorn's gevent worker (time patched) the worker's
    other requests and its heartbeat run meanwhile; elsewhere, other threads get the GIL. A sleep of
    0 would not do: gevent may switch back before its loop polls the sockets."""

    SLICE_S = 0.005
    REST_S = 0.0002

    def __init__(self, clock=time.monotonic, sleep=None) -> None:
        self.clock = clock
        self.sleep = sleep            # None: time.sleep as it is when called (gevent patches it in the worker)
        self.since = clock()

    def __call__(self) -> None:
        if self.clock() - self.since >= self.SLICE_S:
            (self.sleep or time.sleep)(self.REST_S)
            self.since = self.clock()
