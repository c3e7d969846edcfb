"""OpenAI's video routes (`/v1/videos`), as the official SDK and gateways call them (delete cancels).

A second view over the same task machinery as `/v1/videos/generations` and `/v1/videos/tasks`:
the request is mapped into our submit fields, the task state into OpenAI's `Video` object.
"""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.answers import json_answer
from app.api.downloads import result_answer
from app.api.request_body import (body_fields, preferred_wait_seconds, prefers_wait, uploaded_files,
                                  with_spooled_media)
from app.schemas.openai import (MAX_LIST, OpenAIVideoCreateBody, OpenAIVideoCreateSchema, OpenAIVideoFormSchema,
                                VideoListArgs)
from app.schemas.tasks import IDEMPOTENCY_PARAMETER, PREFER_PARAMETER
from app.schemas.videos import VideoSubmitSchema
from app.services.cancelling import cancel_task
from app.services.history_pages import recent_videos
from app.services.openai_shapes import reference_files, submit_fields, video_from_state, video_model
from app.services.tasks import TaskState, task_state
from app.services.video_inputs import video_request
from app.serving import stopping

blp = Blueprint("openai_videos", __name__, url_prefix="/v1/videos",
                description="OpenAI's video shape over the same tasks (official SDK, litellm, gateways)")
KIND = "video"
FAMILY = "openai_videos"     # the shape this family's webhook events carry


_VIDEO_DOC = {"description": "OpenAI's `Video` object", "content": {"application/json": {"example": {
    "id": "AQEA...", "object": "video", "status": "in_progress", "progress": 40, "created_at": 1764050000,
    "completed_at": None, "expires_at": None, "model": "jimeng-video-3.0", "seconds": "5", "size": "1280x720",
    "error": None, "remixed_from_video_id": None}}}}
_CREATE_BODY = {"content": {
    "multipart/form-data": {"schema": OpenAIVideoFormSchema},
    "application/json": {"schema": OpenAIVideoCreateBody, "example": {
        "prompt": "a lighthouse in a storm", "model": "jimeng-video-3.0", "seconds": "5", "size": "1280x720"}}}}


def _answer(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    headers = dict(headers or {})
    if body["status"] in ("queued", "in_progress"):
        headers["openai-poll-after-ms"] = str(context.config().VIDEO_POLL_AFTER_MS)
    return json_answer(body, status, headers)


@blp.post("")
@blp.doc(requestBody=_CREATE_BODY, security=[{"bearer": []}],
         parameters=[PREFER_PARAMETER, IDEMPOTENCY_PARAMETER],
         responses={"200": _VIDEO_DOC}, summary="OpenAI's create: submit a video", description=(
             "OpenAI's create: `seconds` -> duration, `size` -> ratio + resolution (a size the model lacks is a "
             "400 naming the allowed ones), `input_reference` -> the first frame. Every field of "
             "`/v1/videos/generations` passes through. `Prefer: wait=N` waits up to N s before answering."))
def create():
    who = context.caller()      # 401 comes before any body problem
    idem_key = context.idempotency()
    # OpenAI clients send no prompt only by mistake, but an image alone makes a video here as on
    # /v1/videos/generations: the prompt's presence is not enforced, its type is.
    body = OpenAIVideoCreateSchema(partial=("prompt",)).load(body_fields(spool_data_uris=True))
    files = reference_files(uploaded_files(), body)
    cfg = context.config()
    model, name = video_model(body.get("model"), cfg.OPENAI_MODEL_ALIASES, who.tokens[0].region.code)
    loaded = VideoSubmitSchema().load(submit_fields(body, model, name))
    req = with_spooled_media(video_request(loaded, files))
    wait_s = cfg.WAIT_TIMEOUT if prefers_wait() else preferred_wait_seconds(cfg.WAIT_TIMEOUT)
    if wait_s is None:
        task = context.submitter().submit(req, who, idempotency=idem_key, family=FAMILY)
        pending = TaskState(task_id=task.task_id, status="pending", progress=0, created=task.created, model=task.model)
        return _answer(video_from_state(pending, task, req.prompt))
    task, state = context.submitter().submit_and_wait(req, who, idempotency=idem_key, family=FAMILY, wait_s=wait_s,
                                                      quiet=True, stop=stopping.signal_in(request.environ))
    return _answer(video_from_state(state, task, req.prompt), headers={"Preference-Applied": f"wait={wait_s}"})


@blp.get("/<video_id>")
@blp.doc(security=[{"bearer": []}], responses={"200": _VIDEO_DOC}, summary="OpenAI's retrieve: one video",
         description="OpenAI's retrieve; unfinished videos carry `openai-poll-after-ms`.")
def retrieve(video_id: str):
    state = task_state(KIND, video_id, context.tokens(), context.client(), context.task_settings())
    return _answer(video_from_state(state))


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


@blp.get("")
@blp.doc(security=[{"bearer": []}], responses={"200": {"description": "a page", "content": {
    "application/json": {"example": {"object": "list", "data": [], "first_id": None, "last_id": None,
                                     "has_more": False}}}}},
         summary="OpenAI's list: the account's recent videos",
         description="The account's recent videos from Jimeng's own history (the first token's account), newest "
                     "first. Stateless paging: `last_id` is a signed cursor to pass back as `after`.")
@blp.arguments(VideoListArgs, location="query", as_kwargs=True)
def list_videos(after: str | None = None, limit: int | None = None, order: str | None = None):
    tokens = context.account_tokens()
    limit = 20 if limit is None else limit
    if not 1 <= limit <= MAX_LIST:
        raise errors.InvalidRequest(f"limit must be 1 to {MAX_LIST}", param="limit")
    if order not in (None, "desc"):
        raise errors.InvalidRequest("order must be desc: Jimeng lists the newest first", param="order")
    page = recent_videos(tokens, context.client(), context.task_settings(), limit=limit, after=after or None)
    data = [video_from_state(s) for s in page.states]
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
    return json_answer({**video_from_state(state), "object": "video.deleted", "deleted": True})
