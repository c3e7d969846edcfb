"""Video routes: submit, task state, batch, content."""
from __future__ import annotations

from flask import Response, request, stream_with_context
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.blocking import blocking_answer
from app.api.request_body import body_fields, prefers_wait, uploaded_files
from app.api.task_routes import add_task_routes, state_json
from app.schemas.tasks import SubmittedSchema
from app.schemas.videos import VideoSubmitSchema
from app.services import content
from app.services.tasks import task_state
from app.services.video_inputs import video_request
from app.services.videos import submit_video

blp = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Asynchronous video tasks")
KIND = "video"
_BODY_DOC = {"content": {"application/json": {"schema": VideoSubmitSchema},
                         "multipart/form-data": {"schema": VideoSubmitSchema}}}


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
        task = submit_video(req, tokens, context.client(), context.submit_settings())
        return {"created": task.created, "task_id": task.task_id, "status": task.status, "model": task.model}
    return blocking_answer(KIND, lambda: submit_video(req, tokens, context.client(), context.submit_settings()),
                           tokens, prompt=req.prompt, response_format=fields["response_format"])


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
