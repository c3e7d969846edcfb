"""Video routes: submit, task state, batch, content."""
from __future__ import annotations

import time

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.request_body import SMALL_BODY, body_fields, prefers_wait, uploaded_files
from app.schemas.tasks import BatchRequestSchema, BatchResponseSchema, SubmittedSchema, TaskStateSchema
from app.schemas.videos import VideoSubmitSchema
from app.services import content
from app.services.tasks import TaskState, task_state, task_states
from app.services.video_inputs import video_request
from app.services.videos import submit_video
from app.services.waiting import naming_the_task, wait_for_task, waiter_slot

blp = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Asynchronous video tasks")
KIND = "video"
_BODY_DOC = {"content": {"application/json": {"schema": VideoSubmitSchema},
                         "multipart/form-data": {"schema": VideoSubmitSchema}}}


def state_json(state: TaskState) -> dict:
    """The public task shape: optional parts only where they apply (the route's schema dumps it once)."""
    return {k: v for k, v in state.__dict__.items() if v is not None and k != "record"}


def _submit(req, tokens):
    return context.submit_task(lambda toks, settings: submit_video(req, toks, context.client(), settings),
                               tokens, req.model, req.rewind)


@blp.post("/generations")
@blp.doc(requestBody=_BODY_DOC, security=[{"bearer": []}], description=(
    "Submit a video task; answers at once with a task id. `wait: true` or `Prefer: wait` blocks until "
    "the task ends and answers in the old sync shape."))
@blp.response(200, SubmittedSchema)
def submit():
    tokens = context.tokens()
    fields = VideoSubmitSchema().load(body_fields())
    req = video_request(fields, uploaded_files())
    if not (fields["wait"] or prefers_wait()):
        task = _submit(req, tokens)
        return {"created": task.created, "task_id": task.task_id, "status": task.status, "model": task.model}
    cfg = context.config()
    with waiter_slot(context.current_app.extensions["waiters"]):
        task = _submit(req, tokens)
        with naming_the_task(task.task_id):
            state = wait_for_task(KIND, task.task_id, tokens, context.client(), context.task_settings(),
                                  timeout=cfg.WAIT_TIMEOUT, interval=cfg.WAIT_POLL_SECONDS)
            if state.status != "completed":
                raise errors.error_for_code(state.error_code, state.error)
            item = {"url": state.result["url"], "revised_prompt": req.prompt}
            if fields["response_format"] == "b64_json":
                item = {"b64_json": content.read_base64(state.result["url"], timeout=cfg.JIMENG_TIMEOUT),
                        "revised_prompt": req.prompt}
    return Response(response=context.current_app.json.dumps({"created": int(time.time()), "data": [item]}),
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
