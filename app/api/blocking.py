"""The blocking answer shared by every submit route that waits: submit, follow the task, and answer
in OpenAI's images shape `{"created", "task_id", "data": [{"url"|"b64_json", "revised_prompt"}]}`.

`Prefer: wait=N` (RFC 7240) may bound the wait: a task still running then is answered 202 with its
state instead of an error (`quiet`). A stop of the server ends every wait at once with the same
answers a wait that ran out gets, so that a deploy neither waits for them nor cuts them."""
from __future__ import annotations

import time

from flask import Response, request

from app import errors
from app.api import context
from app.api.answers import json_answer, state_json, submitted_json
from app.services import content
from app.services.idempotency import IdempotencyKey
from app.services.api_keys import Caller
from app.services.submitter import Request
from app.services.waiting import naming_the_task
from app.serving import stopping


def blocking_answer(req: Request, who: Caller, idempotency: IdempotencyKey | None, *, response_format: str,
                    wait_s: float, quiet: bool = False, applied: str | None = None) -> Response:
    """Submit and wait up to `wait_s` (app/services/submitter.py). Past it, or when the server stops:
    202 with the task when `quiet`, else the timeout error with the task id and its state
    (x-should-retry: false; the task goes on)."""
    cfg = context.config()
    headers = {"Preference-Applied": applied} if applied else None
    task, state = context.submitter().submit_and_wait(req, who, idempotency=idempotency, family="tasks",
                                                      wait_s=wait_s, quiet=quiet,
                                                      stop=stopping.signal_in(request.environ))
    with naming_the_task(task.task_id):
        if not state.finished and not quiet:     # only a stop ends a wait early without an error
            raise errors.UpstreamTimeout("the service is restarting and ended the wait; the task goes on: "
                                         "poll task_id", extra={"task": state_json(state)})
        if not state.finished:
            return json_answer(submitted_json(task, state.status), 202, headers)
        if state.status != "completed":
            raise errors.error_for_code(state.error_code, state.error)
        urls = [i["url"] for i in state.result.get("images") or [state.result]]
        if response_format == "b64_json":
            data = [{"b64_json": content.read_base64(url, timeout=cfg.JIMENG_TIMEOUT,
                                                     allow_loopback=cfg.ALLOW_LOOPBACK_MEDIA),
                     "revised_prompt": req.prompt} for url in urls]
        else:
            data = [{"url": url, "revised_prompt": req.prompt} for url in urls]
    return json_answer({"created": int(time.time()), "task_id": task.task_id, "data": data}, 200, headers)
