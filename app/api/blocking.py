"""The blocking answer shared by every submit route that waits: submit, follow the task, and answer
in OpenAI's images shape `{"created", "task_id", "data": [{"url"|"b64_json", "revised_prompt"}]}`.

`Prefer: wait=N` (RFC 7240) may bound the wait: a task still running then is answered 202 with its
state instead of an error (`quiet`). A stop of the server ends every wait at once with the same
answers a wait that ran out gets, so that a deploy neither waits for them nor cuts them."""
from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response, current_app, request

from app import errors
from app.serving import stopping
from app.api import context
from app.api.task_routes import state_json
from app.services import content
from app.services.submitting import SubmittedTask
from app.services.waiting import naming_the_task, wait_for_task, waiter_slot


def json_answer(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON answer that skips the route's response schema (blocking answers have their own shape)."""
    return Response(response=current_app.json.dumps(body), status=status, headers=headers,
                    mimetype="application/json")


def blocking_answer(kind: str, submit: Callable[[], SubmittedTask], tokens: list, *, prompt: str,
                    response_format: str, wait_s: float, quiet: bool = False,
                    applied: str | None = None) -> Response:
    """A waiter slot first (a full house refuses before anything is paid), then submit and wait up
    to `wait_s`. Past it, or when the server stops: 202 with the task when `quiet`, else the timeout
    error with the task id and its state (x-should-retry: false; the task goes on)."""
    cfg = context.config()
    headers = {"Preference-Applied": applied} if applied else None
    with waiter_slot(current_app.extensions["waiters"]):
        task = submit()
        with naming_the_task(task.task_id):
            state = wait_for_task(kind, task.task_id, tokens, context.client(), context.task_settings(),
                                  timeout=wait_s, interval=cfg.WAIT_POLL_SECONDS, give_up_quietly=quiet,
                                  stop=stopping.signal_in(request.environ))
            if not state.finished and not quiet:     # only a stop ends a wait early without an error
                raise errors.UpstreamTimeout("the service is restarting and ended the wait; the task goes on: "
                                             "poll task_id", extra={"task": state_json(state)})
            if not state.finished:
                body = {"created": task.created, "task_id": task.task_id, "status": state.status, "model": task.model}
                return json_answer(body, 202, headers)
            if state.status != "completed":
                raise errors.error_for_code(state.error_code, state.error)
            urls = [i["url"] for i in state.result.get("images") or [state.result]]
            if response_format == "b64_json":
                data = [{"b64_json": content.read_base64(url, timeout=cfg.JIMENG_TIMEOUT,
                                                         allow_loopback=cfg.ALLOW_LOOPBACK_MEDIA),
                         "revised_prompt": prompt} for url in urls]
            else:
                data = [{"url": url, "revised_prompt": prompt} for url in urls]
    return json_answer({"created": int(time.time()), "task_id": task.task_id, "data": data}, 200, headers)
