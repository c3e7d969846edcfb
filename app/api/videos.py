"""Video routes: submit, task state, batch, content."""
from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.blocking import blocking_answer, json_answer  # noqa: F401  (json_answer: openai_videos)
from app.api.request_body import (body_fields, preferred_wait_seconds, prefers_wait, uploaded_files,
                                  with_spooled_media)
from app.api.task_routes import add_task_routes, state_json
from app.schemas.tasks import IDEMPOTENCY_PARAMETER, PREFER_PARAMETER, BlockingAnswerSchema, SubmittedSchema
from app.schemas.videos import VideoSubmitFormSchema, VideoSubmitSchema
from app.services import content
from app.services.tasks import task_state
from app.services.video_inputs import video_request

blp = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Asynchronous video tasks")
KIND = "video"
_BODY_DOC = {"required": True, "content": {
    "application/json": {"schema": VideoSubmitSchema, "example": {
        "prompt": "a lighthouse in a storm, slow dolly in", "model": "jimeng-video-3.0", "ratio": "16:9",
        "duration": 5, "file_paths": ["https://example.com/first-frame.png"]}},
    "multipart/form-data": {"schema": VideoSubmitFormSchema}}}


@blp.post("/generations")
@blp.doc(requestBody=_BODY_DOC, security=[{"bearer": []}], parameters=[PREFER_PARAMETER, IDEMPOTENCY_PARAMETER],
         description=(
    "Submit a video task; answers at once with a task id. `wait: true` or `Prefer: wait` blocks until "
    "the task ends and answers in the old sync shape (`created`, `task_id`, `data[0].url`). "
    "`Prefer: wait=N` (RFC 7240) blocks at most N seconds: the sync shape if the task ended by then, "
    "else 202 with the task as it is; `Preference-Applied` says which."),
    responses={"202": {"description": "`Prefer: wait=N` ran out: the task, still running",
                       "content": {"application/json": {"schema": SubmittedSchema}}},
               "200": {"description": "the task (async), or with `wait` the finished video in the old "
                                      "sync shape", "content": {"application/json": {"schema": BlockingAnswerSchema}}}})
@blp.response(200, SubmittedSchema)
def submit():
    tokens = context.tokens()
    idem_key = context.idempotency()
    fields = VideoSubmitSchema().load(body_fields(spool_data_uris=True))
    req = with_spooled_media(video_request(fields, uploaded_files()))
    cfg = context.config()
    legacy = fields["wait"] or prefers_wait()
    wait_s = cfg.WAIT_TIMEOUT if legacy else preferred_wait_seconds(cfg.WAIT_TIMEOUT)
    if wait_s is None:
        task = context.submit_video_task(req, tokens, idem_key)
        return {"created": task.created, "task_id": task.task_id, "status": task.status, "model": task.model}
    applied = "wait" if legacy and not preferred_wait_seconds(cfg.WAIT_TIMEOUT) else f"wait={wait_s}"
    return blocking_answer(
        KIND, lambda: context.submit_video_task(req, tokens, idem_key),
        tokens, prompt=req.prompt, response_format=fields["response_format"], wait_s=wait_s, quiet=not legacy,
        applied=applied)


add_task_routes(blp, KIND)


@blp.get("/tasks/<task_id>/content")
@blp.doc(security=[{"bearer": []}], description="The finished video's bytes (Range supported); "
         "`?format=b64_json` answers {\"b64_json\": ...}. 409 while not finished.",
         responses={"200": {"description": "the video", "content": {
             "video/mp4": {"schema": {"type": "string", "format": "binary"}},
             "application/json": {"schema": {"type": "object", "properties": {"b64_json": {"type": "string"}}}}}},
             "206": {"description": "a byte range of the video"}})
def get_content(task_id: str):
    state = task_state(KIND, task_id, context.tokens(), context.client(), context.task_settings())
    if state.status != "completed":
        raise errors.TaskNotFinished(f"the task is {state.status}", extra={"task": state_json(state)})
    cfg = context.config()
    url = state.result["url"]
    if request.args.get("format") == "b64_json":
        return {"b64_json": content.read_base64(url, timeout=cfg.JIMENG_TIMEOUT,
                                                allow_loopback=cfg.ALLOW_LOOPBACK_MEDIA)}
    upstream = content.open_result(url, range_header=request.headers.get("Range"), timeout=cfg.JIMENG_TIMEOUT,
                                   allow_loopback=cfg.ALLOW_LOOPBACK_MEDIA)

    def chunks():
        with upstream:
            yield from upstream.iter_content(content.CHUNK)

    headers = {h: upstream.headers[h] for h in content.PASSED_HEADERS if h in upstream.headers}
    if headers.get("Content-Type", "").split(";")[0].strip().lower() in ("", *content.UNLABELLED):
        headers["Content-Type"] = "video/mp4"
    return Response(stream_with_context(chunks()), status=upstream.status_code, headers=headers,
                    direct_passthrough=True)
