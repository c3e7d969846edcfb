"""OpenAI's video routes (`/v1/videos`), as the official SDK and gateways call them (delete cancels).

A second view over the same task machinery as `/v1/videos/generations` and `/v1/videos/tasks`:
the request is mapped into our submit fields, the task state into OpenAI's `Video` object.
"""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, fields, pre_load, validate

from app import errors
from app.serving import stopping
from app.api import context
from app.api.answers import json_answer
from app.api.downloads import result_answer
from app.api.openai_shapes import resolve_alias, size_of, submit_fields, video_object
from app.api.request_body import (body_fields, preferred_wait_seconds, prefers_wait, uploaded_files,
                                  with_spooled_media)
from app.jimeng.models import DEFAULT_VIDEO_MODEL, VIDEO_MODELS
from app.schemas.form_values import WholeNumber
from app.schemas.tasks import IDEMPOTENCY_PARAMETER, PREFER_PARAMETER, webhook_events_field, webhook_url_field
from app.schemas.videos import VideoSubmitSchema
from app.services.cancelling import cancel_task
from app.services.history_pages import recent_videos
from app.services.tasks import TaskState, task_state
from app.services.video_inputs import video_request
from app.services.videos import SubmittedTask

blp = Blueprint("openai_videos", __name__, url_prefix="/v1/videos",
                description="OpenAI's video shape over the same tasks (official SDK, litellm, gateways)")
KIND = "video"
FAMILY = "openai_videos"     # the shape this family's webhook events carry
MAX_LIST = 100


class OpenAIVideoCreateSchema(Schema):
    """OpenAI's fields (JSON); every field of `POST /v1/videos/generations` is accepted too
    (function_mode, ratio, resolution, duration, file_paths, image_file_N, video_file_N, frames...),
    checked by that route's schema. OpenAI's own fields are checked here: a value of the wrong type
    is a 400 naming the field, never the default."""

    class Meta:
        unknown = INCLUDE

    prompt = fields.String(required=True, metadata={"example": "a lighthouse in a storm, slow dolly in"})
    model = fields.String(allow_none=True, metadata={"description": "one of GET /v1/models (or a configured alias)",
                                                     "example": "jimeng-video-3.0"})
    # The SDK sends text ("5"); a number is read the same way.
    seconds = WholeNumber(allow_none=True, metadata={"type": "string", "pattern": "^[0-9]{1,3}$",
                                                     "description": "duration; the model's allowed values",
                                                     "example": "5"})
    size = fields.String(allow_none=True, metadata={"description": "WIDTHxHEIGHT, mapped to ratio + resolution",
                                                    "example": "1280x720"})
    input_reference = fields.Raw(allow_none=True, metadata={
        "description": "the first frame: a URL, a data URI or {\"image_url\": ...}",
        "oneOf": [{"type": "string"}, {"type": "object", "properties": {"image_url": {"type": "string"}}}]})

    @pre_load
    def empty_is_not_given(self, data, **_):
        """An empty form field means "not given", as on /v1/videos/generations."""
        if not isinstance(data, dict):
            return data
        return {k: v for k, v in data.items() if not (v == "" and k != "prompt")}
    function_mode = fields.String(metadata={"description": "our modes pass through (first_last_frames...)"})
    ratio = fields.String(metadata={"description": "instead of size"})
    webhook_url = webhook_url_field()
    webhook_events = webhook_events_field("video")


class OpenAIVideoFormSchema(OpenAIVideoCreateSchema):
    """The multipart form the SDK sends: `input_reference` is an image file."""

    input_reference = fields.Raw(metadata={"type": "string", "format": "binary",
                                           "description": "the first frame, an image file"})
    image_file_1 = fields.Raw(metadata={"type": "string", "format": "binary",
                                        "description": "more images, as on /v1/videos/generations"})


_VIDEO_DOC = {"description": "OpenAI's `Video` object", "content": {"application/json": {"example": {
    "id": "AQEA...", "object": "video", "status": "in_progress", "progress": 40, "created_at": 1764050000,
    "completed_at": None, "expires_at": None, "model": "jimeng-video-3.0", "seconds": "5", "size": "1280x720",
    "error": None, "remixed_from_video_id": None}}}}
_CREATE_BODY = {"content": {
    "multipart/form-data": {"schema": OpenAIVideoFormSchema},
    "application/json": {"schema": OpenAIVideoCreateSchema, "example": {
        "prompt": "a lighthouse in a storm", "model": "jimeng-video-3.0", "seconds": "5", "size": "1280x720"}}}}


def _object(state: TaskState, fallback: SubmittedTask | None = None, prompt: str | None = None) -> dict:
    """Our task state as OpenAI's Video; what the record does not say yet comes from the submit."""
    record = state.record
    model = state.model or (fallback.model if fallback else None)
    seconds = round(record.requested_ms / 1000) if record and record.requested_ms else (
        fallback.duration if fallback else None)
    ratio = (record.ratio if record else None) or (fallback.ratio if fallback else None)
    resolution = (record.resolution if record else None) or (fallback.resolution if fallback else None)
    if ratio and not resolution and model in VIDEO_MODELS:
        resolution = VIDEO_MODELS[model].resolutions[0]   # models that send none make their first
    try:
        size = size_of(ratio, resolution) if ratio and resolution else None
    except (ValueError, KeyError):
        size = None
    completed_at = int(record.finish_time) if record and record.finish_time else None
    body = video_object(state.task_id, state.status, progress=state.progress, created=state.created, model=model,
                        seconds=seconds, size=size, completed_at=completed_at, error_code=state.error_code,
                        error=state.error, prompt=prompt if prompt is not None else (record.prompt if record else None))
    if state.webhook is not None:
        body["webhook"] = state.webhook
    return body


def video_answer(state: TaskState) -> dict:
    """OpenAI's Video for a task, as retrieve answers it (also the `data` of its webhook events)."""
    return _object(state)


def _answer(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    headers = dict(headers or {})
    if body["status"] in ("queued", "in_progress"):
        headers["openai-poll-after-ms"] = str(context.config().VIDEO_POLL_AFTER_MS)
    return json_answer(body, status, headers)


@blp.post("")
@blp.doc(requestBody=_CREATE_BODY, security=[{"bearer": []}],
         parameters=[PREFER_PARAMETER, IDEMPOTENCY_PARAMETER],
         responses={"200": _VIDEO_DOC}, description=(
             "OpenAI's create: `seconds` -> duration, `size` -> ratio + resolution (a size the model lacks is a "
             "400 naming the allowed ones), `input_reference` -> the first frame. Every field of "
             "`/v1/videos/generations` passes through. `Prefer: wait=N` waits up to N s before answering."))
def create():
    who = context.caller()      # 401 comes before any body problem
    idem_key = context.idempotency()
    # OpenAI clients send no prompt only by mistake, but an image alone makes a video here as on
    # /v1/videos/generations: the prompt's presence is not enforced, its type is.
    body = OpenAIVideoCreateSchema(partial=("prompt",)).load(body_fields(spool_data_uris=True))
    files = uploaded_files()
    for f in files:
        if f.field == "input_reference":
            if body.get("image_file") or any(g.field == "image_file" for g in files):
                raise errors.InvalidRequest("send input_reference or image_file, not both", param="input_reference")
            f.field = "image_file"
    cfg = context.config()
    region = who.tokens[0].region.code
    name = resolve_alias(body.get("model") or None, cfg.OPENAI_MODEL_ALIASES, region, DEFAULT_VIDEO_MODEL)
    model = VIDEO_MODELS.get(name or DEFAULT_VIDEO_MODEL[region])
    if model is None:
        raise errors.UnsupportedModel(f"unknown model {name!r}; models: {', '.join(VIDEO_MODELS)}", param="model")
    loaded = VideoSubmitSchema().load(submit_fields(body, model, name))
    req = with_spooled_media(video_request(loaded, files))
    wait_s = cfg.WAIT_TIMEOUT if prefers_wait() else preferred_wait_seconds(cfg.WAIT_TIMEOUT)
    if wait_s is None:
        task = context.submitter().submit(req, who, idempotency=idem_key, family=FAMILY)
        pending = TaskState(task_id=task.task_id, status="pending", progress=0, created=task.created, model=task.model)
        return _answer(_object(pending, task, req.prompt))
    task, state = context.submitter().submit_and_wait(req, who, idempotency=idem_key, family=FAMILY, wait_s=wait_s,
                                                      quiet=True, stop=stopping.signal_in(request.environ))
    return _answer(_object(state, task, req.prompt), headers={"Preference-Applied": f"wait={wait_s}"})


@blp.get("/<video_id>")
@blp.doc(security=[{"bearer": []}], responses={"200": _VIDEO_DOC},
         description="OpenAI's retrieve; unfinished videos carry `openai-poll-after-ms`.")
def retrieve(video_id: str):
    return _answer(_object(task_state(KIND, video_id, context.tokens(), context.client(), context.task_settings())))


@blp.get("/<video_id>/content")
@blp.doc(security=[{"bearer": []}], parameters=[{"in": "query", "name": "variant", "required": False,
         "schema": {"type": "string", "enum": ["video"]}, "description": "only `video` (the MP4) exists here"}],
         responses={"200": {"description": "the MP4", "content": {
             "video/mp4": {"schema": {"type": "string", "format": "binary"}}}}})
def download_content(video_id: str):
    """OpenAI's download_content: the MP4, streamed (Range supported); 409 while unfinished."""
    variant = request.args.get("variant", "video")
    if variant != "video":
        raise errors.InvalidRequest(f"variant {variant!r} does not exist here; Jimeng makes only the video",
                                    param="variant")
    return result_answer(KIND, video_id)


class ListArgs(Schema):
    after = fields.String(metadata={"description": "the `last_id` of the previous page"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_LIST),
                           metadata={"description": f"1-{MAX_LIST}, default 20"})
    order = fields.String(metadata={"description": "only `desc` (Jimeng lists newest first)"})


@blp.get("")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "a page", "content": {
    "application/json": {"example": {"object": "list", "data": [], "first_id": None, "last_id": None,
                                     "has_more": False}}}}},
         description="The account's recent videos from Jimeng's own history (the first token's account), newest "
                     "first. Stateless paging: `last_id` is a signed cursor to pass back as `after`.")
@blp.arguments(ListArgs, location="query", as_kwargs=True)
def list_videos(after: str | None = None, limit: int | None = None, order: str | None = None):
    tokens = context.account_tokens()
    limit = 20 if limit is None else limit
    if not 1 <= limit <= MAX_LIST:
        raise errors.InvalidRequest(f"limit must be 1 to {MAX_LIST}", param="limit")
    if order not in (None, "desc"):
        raise errors.InvalidRequest("order must be desc: Jimeng lists the newest first", param="order")
    page = recent_videos(tokens, context.client(), context.task_settings(), limit=limit, after=after or None)
    data = [_object(s) for s in page.states]
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": page.cursor if page.has_more and page.cursor else (data[-1]["id"] if data else None),
            "has_more": page.has_more}


_DELETE_DOC = {"description": "the cancelled video: OpenAI's `VideoDeleteResponse` fields (`id`, `object` "
                              "`video.deleted`, `deleted` true) with the `Video` object's, now `failed` with "
                              "`error.code` `cancelled`", "content": {"application/json": {"example": {
    "id": "AQIA...", "object": "video.deleted", "deleted": True, "status": "failed", "progress": 12,
    "created_at": 1764050000, "completed_at": 1764050042, "expires_at": None, "model": "jimeng-video-3.0",
    "seconds": "5", "size": "1280x720", "remixed_from_video_id": None,
    "error": {"code": "cancelled", "message": "the task was cancelled while queued; Jimeng returned the credits"}}}}}


@blp.delete("/<video_id>")
@blp.doc(security=[{"bearer": []}], responses={"200": _DELETE_DOC, "409": {
    "description": "`task_not_cancellable`: the video is running or ended (Jimeng has no call that deletes a "
                   "history record), or belongs to an abroad account"}}, description=(
    "OpenAI's delete, as a cancel: a video still queued at Jimeng is cancelled (Jimeng returns the credits) and "
    "the answer is what the SDK's `videos.delete` reads, plus the video itself. The record stays in the account's "
    "history: the video is still found, `failed` / `cancelled`. A repeat answers the same."))
def delete(video_id: str):
    """Cancel a queued video; answered in the shape of OpenAI's VideoDeleteResponse plus the Video."""
    state = cancel_task(KIND, video_id, context.tokens(), context.client(), context.task_settings())
    return json_answer({**_object(state), "object": "video.deleted", "deleted": True})
