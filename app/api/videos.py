"""Video routes: submit, task state, batch, content."""
from __future__ import annotations

from flask_smorest import Blueprint

from app.api import context
from app.api.answers import submitted_json
from app.api.blocking import blocking_answer
from app.api.docs_examples import FIRST_FRAME
from app.api.downloads import result_answer
from app.api.request_body import (body_fields, preferred_wait_seconds, prefers_wait, uploaded_files,
                                  with_spooled_media)
from app.api.task_routes import add_task_routes
from app.schemas.tasks import IDEMPOTENCY_PARAMETER, PREFER_PARAMETER, BlockingAnswerSchema, SubmittedSchema
from app.schemas.videos import VideoSubmitFormSchema, VideoSubmitSchema
from app.services.video_inputs import video_request

blp = Blueprint("videos", __name__, url_prefix="/v1/videos", description="Asynchronous video tasks")
KIND = "video"
_BODY_DOC = {"required": True, "content": {
    "application/json": {"schema": VideoSubmitSchema, "example": {
        "prompt": "a lighthouse in a storm, slow dolly in", "model": "jimeng-video-3.0", "ratio": "16:9",
        "duration": 5, "file_paths": [FIRST_FRAME]}},
    "multipart/form-data": {"schema": VideoSubmitFormSchema}}}


@blp.post("/generations")
@blp.doc(requestBody=_BODY_DOC, security=[{"bearer": []}], parameters=[PREFER_PARAMETER, IDEMPOTENCY_PARAMETER],
         summary="Submit a video task", description=(
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
    who = context.caller()      # 401 comes before any body problem
    idem_key = context.idempotency()
    fields = VideoSubmitSchema().load(body_fields(spool_data_uris=True))
    req = with_spooled_media(video_request(fields, uploaded_files()))
    cfg = context.config()
    legacy = fields["wait"] or prefers_wait()
    wait_s = cfg.WAIT_TIMEOUT if legacy else preferred_wait_seconds(cfg.WAIT_TIMEOUT)
    if wait_s is None:
        return submitted_json(context.submitter().submit(req, who, idempotency=idem_key))
    applied = "wait" if legacy and not preferred_wait_seconds(cfg.WAIT_TIMEOUT) else f"wait={wait_s}"
    return blocking_answer(req, who, idem_key, response_format=fields["response_format"], wait_s=wait_s,
                           quiet=not legacy, applied=applied)


add_task_routes(blp, KIND)


@blp.get("/tasks/<task_id>/content")
@blp.doc(security=[{"bearer": []}], summary="A finished video's bytes",
         description="The finished video's bytes (Range supported); "
         "`?format=b64_json` answers {\"b64_json\": ...}. 409 while not finished.",
         responses={"200": {"description": "the video", "content": {
             "video/mp4": {"schema": {"type": "string", "format": "binary"}},
             "application/json": {"schema": {"type": "object", "properties": {"b64_json": {"type": "string"}}}}}},
             "206": {"description": "a byte range of the video"}})
def get_content(task_id: str):
    return result_answer(KIND, task_id)
