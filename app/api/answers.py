"""Our routes' answer shapes, built in one place: a submitted task, a task's state, and JSON answered
as built (blocking answers have shapes of their own, outside a route's response schema)."""
from __future__ import annotations

from flask import Response, current_app

from app.services.submitting import SubmittedTask
from app.services.tasks import TaskState


def json_answer(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON answer that skips the route's response schema."""
    return Response(response=current_app.json.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


def submitted_json(task: SubmittedTask, status: str | None = None) -> dict:
    """A submit's answer (SubmittedSchema): the task at once, or as a wait left it (`status`)."""
    return {"created": task.created, "task_id": task.task_id, "status": status or task.status, "model": task.model}


def state_json(state: TaskState) -> dict:
    """The public task shape (TaskStateSchema's fields): optional parts only where they apply.

    The task routes answer it as built, already plain JSON types: the schemas document it (a test
    holds answers to them), and dumping it again through marshmallow cost a fifth of a batch."""
    return {k: v for k, v in state.__dict__.items() if v is not None and k != "record"}
