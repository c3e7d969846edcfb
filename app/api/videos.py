"""Video routes: submit, task state, batch, content."""
from __future__ import annotations

import time

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.request_body import (SMALL_BODY, body_fields, preferred_wait_seconds, prefers_wait,
                                  uploaded_files, with_spooled_media)
from app.schemas.tasks import (IDEMPOTENCY_PARAMETER, PREFER_PARAMETER, BatchRequestSchema, BatchResponseSchema,
                               BlockingAnswerSchema,
                               SubmittedSchema, TaskStateSchema)
from app.schemas.videos import VideoSubmitFormSchema, VideoSubmitSchema
from app.services import content
from app.services.tasks import TaskState, task_state, task_states
from app.services.video_inputs import video_request
from app.services.waiting import naming_the_task, wait_for_task, waiter_slot

blp = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Asynchronous video tasks")
KIND = "video"
_BODY_DOC = {"content": {
    "application/json": {"schema": VideoSubmitSchema, "example": {
        "prompt": "a lighthouse in a storm, slow dolly in", "model": "jimeng-video-3.0", "ratio": "16:9",
        "duration": 5, "file_paths": ["https://example.com/first-frame.png"]}},
    "multipart/form-data": {"schema": VideoSubmitFormSchema}}}


def state_json(state: TaskState) -> dict:
    """The public task shape: optional parts only where they apply (the route's schema dumps it once)."""
    return {k: v for k, v in state.__dict__.items() if v is not None and k != "record"}


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
    with waiter_slot(context.current_app.extensions["waiters"]):
        task = context.submit_video_task(req, tokens, idem_key)
        with naming_the_task(task.task_id):
            state = wait_for_task(KIND, task.task_id, tokens, context.client(), context.task_settings(),
                                  timeout=wait_s, interval=cfg.WAIT_POLL_SECONDS, give_up_quietly=not legacy)
            if not state.finished:
                body = {"created": task.created, "task_id": task.task_id, "status": state.status, "model": task.model}
                return json_answer(body, 202, {"Preference-Applied": applied})
            if state.status != "completed":
                raise errors.error_for_code(state.error_code, state.error)
            item = {"url": state.result["url"], "revised_prompt": req.prompt}
            if fields["response_format"] == "b64_json":
                item = {"b64_json": content.read_base64(state.result["url"], timeout=cfg.JIMENG_TIMEOUT),
                        "revised_prompt": req.prompt}
    return json_answer({"created": int(time.time()), "task_id": task.task_id, "data": [item]}, 200,
                       {"Preference-Applied": applied})


def json_answer(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON answer that skips the route's response schema (blocking answers have their own shape)."""
    return Response(response=context.current_app.json.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


@blp.get("/tasks/<task_id>")
@blp.doc(security=[{"bearer": []}])
@blp.response(200, TaskStateSchema)
def get_task(task_id: str):
    """One task's current state."""
    return state_json(task_state(KIND, task_id, context.tokens(), context.client(), context.task_settings()))


def _batch(ids: list[str], tokens: list) -> dict:
    cfg = context.config()
    if not 1 <= len(ids) <= cfg.MAX_BATCH_SIZE:
        raise errors.InvalidRequest(f"send 1 to {cfg.MAX_BATCH_SIZE} task ids, got {len(ids)}", param="task_ids")
    states = task_states(KIND, ids, tokens, context.client(), context.task_settings())
    return {"data": [state_json(s) for s in states]}


@blp.post("/tasks/batch")
@blp.doc(requestBody={"content": {"application/json": {"schema": BatchRequestSchema}}}, security=[{"bearer": []}])
@blp.response(200, BatchResponseSchema)
def batch():
    """Many tasks at once, in the order asked; unknown ids are `not_found` items."""
    tokens = context.tokens()  # 401 comes before any body problem
    fields = BatchRequestSchema().load(body_fields(SMALL_BODY))
    return _batch(fields["task_ids"], tokens)


@blp.get("/tasks")
@blp.doc(security=[{"bearer": []}], parameters=[{"in": "query", "name": "ids", "required": True,
                                                  "schema": {"type": "string"}, "description": "comma separated"}])
@blp.response(200, BatchResponseSchema)
def batch_get():
    """The batch query for clients that can only GET."""
    tokens = context.tokens()
    ids = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()]
    return _batch(ids, tokens)


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
        return {"b64_json": content.read_base64(url, timeout=cfg.JIMENG_TIMEOUT)}
    upstream = content.open_result(url, range_header=request.headers.get("Range"), timeout=cfg.JIMENG_TIMEOUT)

    def chunks():
        with upstream:
            yield from upstream.iter_content(content.CHUNK)

    headers = {h: upstream.headers[h] for h in content.PASSED_HEADERS if h in upstream.headers}
    if headers.get("Content-Type", "").split(";")[0].strip().lower() in ("", *content.UNLABELLED):
        headers["Content-Type"] = "video/mp4"
    return Response(stream_with_context(chunks()), status=upstream.status_code, headers=headers,
                    direct_passthrough=True)
