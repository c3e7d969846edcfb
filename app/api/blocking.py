"""The blocking answer shared by every submit route: submit, follow the task to its end, and answer
in OpenAI's images shape `{"created", "task_id", "data": [{"url"|"b64_json", "revised_prompt"}]}`."""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response, current_app

from app import errors
from app.api import context
from app.services import content
from app.services.submitting import SubmittedTask
from app.services.waiting import naming_the_task, wait_for_task, waiter_slot


def blocking_answer(kind: str, submit: Callable[[], SubmittedTask], tokens: list, *, prompt: str,
                    response_format: str) -> Response:
    """Taken a waiter slot first (a full house refuses before anything is paid), then submit and wait."""
    cfg = context.config()
    with waiter_slot(current_app.extensions["waiters"]):
        task = submit()
        with naming_the_task(task.task_id):
            state = wait_for_task(kind, task.task_id, tokens, context.client(), context.task_settings(),
                                  timeout=cfg.WAIT_TIMEOUT, interval=cfg.WAIT_POLL_SECONDS)
            if state.status != "completed":
                raise errors.error_for_code(state.error_code, state.error)
            urls = [i["url"] for i in state.result.get("images") or [state.result]]
            if response_format == "b64_json":
                data = [{"b64_json": content.read_base64(url, timeout=cfg.JIMENG_TIMEOUT), "revised_prompt": prompt}
                        for url in urls]
            else:
                data = [{"url": url, "revised_prompt": prompt} for url in urls]
    body = {"created": int(time.time()), "task_id": task.task_id, "data": data}
    return Response(response=current_app.json.dumps(body), mimetype="application/json")
