"""Task shapes shared by video and image tasks."""
from marshmallow import Schema, fields, validate

from app.jimeng.history import FAILURE_CODES
from app.schemas.form_values import json_array
from app.schemas.strict import Strict


class QueueSchema(Schema):
    position = fields.Integer(allow_none=True, metadata={"description": "place in Jimeng's queue"})
    length = fields.Integer(allow_none=True)
    eta_seconds = fields.Integer(allow_none=True, metadata={"description": "Jimeng's own estimate"})


class WebhookStateSchema(Schema):
    host = fields.String(metadata={"description": "where the event goes (the webhook_url's host)"})
    status = fields.String(metadata={"enum": ["pending", "delivered", "retrying", "gave_up"], "description": (
        "pending: the task runs, or its event is about to be sent; delivered: the receiver answered 2xx; "
        "retrying: it did not, the next attempt is scheduled; gave_up: 410, or no 2xx within the retry window")})
    attempts = fields.Integer(metadata={"description": "delivery attempts so far"})
    last_status = fields.Integer(allow_none=True, metadata={
        "description": "the HTTP status of the last attempt; null before one, or when none came (timeout, refused)"})


# The webhook events of each kind of task, one table: these fields validate against it, registration
# (app/webhooks/registration.py) and the docs read it. A submit that names none gets both.
EVENTS = {"video": ("video.completed", "video.failed"), "image": ("image.completed", "image.failed")}
ALL_EVENTS = (*EVENTS["video"], *EVENTS["image"])

WEBHOOK_FIELDS_DOC = (
    "`webhook_url` (https; http in development) gets a signed event when the task ends (Standard Webhooks "
    "headers, README \"Webhooks\"); `webhook_events` chooses which (default: both of the task's kind).")


def webhook_url_field() -> fields.String:
    # No `example`: /docs's "Try it out" would send it, and a submit from the page would ask for a webhook.
    return fields.String(load_default=None, validate=validate.Length(min=1, max=2048), metadata={
        "description": "an https URL (e.g. https://example.com/hooks/jimeng) that receives a signed event when "
                       "the task ends (README \"Webhooks\")"})


def webhook_events_field(kind: str) -> fields.List:
    # Left out (or an empty form field) means the default; given, it must name at least one: an empty
    # list, null or ",,," is a 400, in JSON and multipart alike.
    return fields.List(fields.String(validate=validate.OneOf(ALL_EVENTS)), allow_none=False,
                       validate=validate.Length(min=1, error="name at least one event, or leave the field out "
                                                             "for the default"), metadata={
        "description": f"which events to send: {', '.join(EVENTS[kind])} (default both); in multipart a comma "
                       "separated list or a JSON array"})


def listed_events(value):
    """`webhook_events` as multipart sends it: a JSON array or a comma separated list (an empty field
    stays empty: not given, as every empty form field; "null" is null, refused as in JSON)."""
    if isinstance(value, str) and value.strip() == "null":
        return None
    if isinstance(value, str) and value.strip() and not value.strip().startswith("["):
        return [part.strip() for part in value.split(",") if part.strip()]
    return json_array(value, "webhook_events")


class TaskStateSchema(Schema):
    task_id = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["pending", "processing", "completed", "failed", "not_found", "unknown"]})
    progress = fields.Integer(metadata={"description": "0-100; never decreases; 100 only when completed"})
    created = fields.Integer(metadata={"description": "when Jimeng created the task (its record's created_time), "
                                                      "unix seconds"})
    model = fields.String(allow_none=True)
    queue = fields.Nested(QueueSchema, metadata={"description": "pending only, when Jimeng tells"})
    result = fields.Dict(metadata={"description": (
        "completed only: `url` (videos: the HD download URL when Jimeng gives one), `preview_url` (videos: "
        "the preview transcode), `hd` (false when url is the preview, with the reason in `hd_error`) and "
        "media facts")})
    error = fields.String(metadata={"description": "failed or not_found: a reason a person understands"})
    error_code = fields.String(metadata={"description": (
        f"failed: {', '.join(FAILURE_CODES)}, timeout (classified by Jimeng's codes, never its messages: "
        "prompt_rejected = refused at submit, output_rejected = refused by review with no credits charged, "
        "cancelled = cancelled while queued, credits returned); not_found: task_not_found")})
    upstream_code = fields.String(metadata={"description": "Jimeng's raw fail_code, when there is one"})
    webhook = fields.Nested(WebhookStateSchema, metadata={"description": "the task's webhook, when it has one"})


class BatchRequestSchema(Strict):
    task_ids = fields.List(fields.String(validate=validate.Length(max=128)), required=True,
                           validate=validate.Length(min=1))


class BatchResponseSchema(Schema):
    data = fields.List(fields.Nested(TaskStateSchema))


class SubmittedSchema(Schema):
    created = fields.Integer()
    task_id = fields.String()
    status = fields.String()
    model = fields.String()


class BlockingItemSchema(Schema):
    url = fields.String(metadata={"description": "the finished video (response_format url)"})
    b64_json = fields.String(metadata={"description": "the video's bytes (response_format b64_json)"})
    revised_prompt = fields.String()


class BlockingAnswerSchema(Schema):
    """The old sync answer (`wait: true`, `Prefer: wait`, or `Prefer: wait=N` when the task ended in time)."""

    created = fields.Integer()
    task_id = fields.String(metadata={"description": "the task, to query or download again later"})
    data = fields.List(fields.Nested(BlockingItemSchema))


PREFER_PARAMETER = {
    "in": "header", "name": "Prefer", "required": False, "schema": {"type": "string"},
    "description": "RFC 7240. `wait=N`: block up to N seconds (capped by WAIT_TIMEOUT) and answer the finished "
                   "result if it is ready, else the task as it is (202). Bare `wait`: the old blocking mode. "
                   "The answer's `Preference-Applied` header names what was honoured."}


IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": "Idempotency-Key", "required": False, "schema": {"type": "string", "maxLength": 255},
    "description": "Send the same key when you retry a submit: if Jimeng already has the task made with this "
                   "key, its task is answered and nothing is submitted (or charged) again. The same key with a "
                   "different body (its webhook_url and webhook_events included) is 409 `idempotency_conflict`. "
                   "Keys are per account; no state is stored."}


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable, machine-readable"})
    message = fields.String(required=True, metadata={"description": "for a person"})
    param = fields.String(allow_none=True, metadata={"description": "the field at fault, if any"})
    upstream_code = fields.String(metadata={"description": "Jimeng's raw ret or fail_code"})
    upstream_fail_code = fields.String(metadata={"description": "the fail_code Jimeng gave with a refused call"})
    task_id = fields.String(metadata={"description": "a task that exists despite the error (it may be paid for)"})
    webhook = fields.Nested(WebhookStateSchema, metadata={
        "description": "a submit with a webhook whose task may exist (task_id): that task is watched, and its "
                       "webhook fires when it ends, as after a 200"})


class ErrorSchema(Schema):
    """Every non-2xx answer."""

    error = fields.Nested(ErrorBodySchema, required=True)
