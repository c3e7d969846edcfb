"""The task routes every kind has: one task, a batch by POST, a batch by GET, cancel.

One set of views for videos and images: `add_task_routes(blp, kind)` puts them on a kind's
blueprint. An id of the other kind is simply not found there (404).
"""
from __future__ import annotations

import logging

from flask import jsonify, request
from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.answers import state_json
from app.api.request_body import SMALL_BODY, body_fields, no_fields
from app.schemas.tasks import BatchRequestSchema, BatchResponseSchema, TaskStateSchema
from app.services.cancelling import cancel_task
from app.services.tasks import task_state, task_states
from app.task_ids import short_form

log = logging.getLogger(__name__)
# At least one id (not just commas and blanks), at most 100 (MAX_BATCH_SIZE's default).
IDS_PATTERN = r"^[\s,]*[^\s,][^,]{0,127}(,[^,]{0,128}){0,99}$"


def batch_states(kind: str, ids: list[str], tokens: list) -> dict:
    cfg = context.config()
    if not 1 <= len(ids) <= cfg.MAX_BATCH_SIZE:
        raise errors.InvalidRequest(f"send 1 to {cfg.MAX_BATCH_SIZE} task ids, got {len(ids)}", param="task_ids")
    states = task_states(kind, ids, tokens, context.client(), context.task_settings())
    return {"data": [state_json(s) for s in states]}


CANCEL_SUMMARY = {"video": "Cancel a queued video task", "image": "Image tasks cannot be cancelled (409)"}
CANCEL_DOC = {
    "video": ("Cancel a video task still waiting in Jimeng's queue: Jimeng returns its credits. The answer is the "
              "task, now `failed` with `error_code` `cancelled`; a repeat answers the same. A task already running "
              "or ended, or of an abroad account, is 409 `task_not_cancellable` with the reason (what Jimeng does "
              "with a running task is not known)."),
    "image": ("Image tasks cannot be cancelled: Jimeng's cancel call is known for queued videos only. An existing "
              "task is 409 `task_not_cancellable` with the reason; an unknown one 404."),
}


def add_task_routes(blp: Blueprint, kind: str) -> None:
    """GET /tasks/<id>, POST /tasks/batch, GET /tasks?ids= and POST /tasks/<id>/cancel for tasks of `kind`."""

    @blp.get("/tasks/<task_id>")
    @blp.doc(security=[{"bearer": []}], summary=f"One {kind} task's current state")
    @blp.response(200, TaskStateSchema)
    def get_task(task_id: str):
        """One task's current state; 404 for an unknown, foreign or other-kind id."""
        state = task_state(kind, task_id, context.tokens(), context.client(), context.task_settings())
        log.info("task state", extra={"task": short_form(task_id), "task_status": state.status})
        return jsonify(state_json(state))

    @blp.post("/tasks/batch")
    @blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": BatchRequestSchema,
                                                           "example": {"task_ids": ["<task_id>", "<task_id>"]}}}},
             security=[{"bearer": []}], summary=f"Many {kind} tasks at once")
    @blp.response(200, BatchResponseSchema)
    def batch():
        """Many tasks at once, in the order asked; unknown ids are `not_found` items."""
        tokens = context.tokens()  # 401 comes before any body problem
        fields = BatchRequestSchema().load(body_fields(SMALL_BODY))
        return jsonify(batch_states(kind, fields["task_ids"], tokens))

    @blp.get("/tasks")
    @blp.doc(security=[{"bearer": []}], summary=f"Many {kind} tasks, for clients that can only GET",
             parameters=[{"in": "query", "name": "ids", "required": True,
                          "schema": {"type": "string", "pattern": IDS_PATTERN},
                          "description": "comma separated task ids, 1 to 100"}])
    @blp.response(200, BatchResponseSchema)
    def batch_get():
        """The batch query for clients that can only GET."""
        tokens = context.tokens()
        ids = [i.strip() for i in request.args.get("ids", "").split(",") if i.strip()]
        return jsonify(batch_states(kind, ids, tokens))

    @blp.post("/tasks/<task_id>/cancel")
    @blp.doc(security=[{"bearer": []}], summary=CANCEL_SUMMARY[kind], description=CANCEL_DOC[kind],
             responses={"409": {"description": "`task_not_cancellable`: running, ended, an image or abroad; the "
                                               "message says which"}})
    @blp.response(200, TaskStateSchema)
    def cancel(task_id: str):
        """Cancel the task if Jimeng still has it queued; the task as it then is."""
        tokens = context.tokens()
        no_fields()
        state = cancel_task(kind, task_id, tokens, context.client(), context.task_settings())
        log.info("task cancel", extra={"task": short_form(task_id), "task_status": state.status})
        return jsonify(state_json(state))
