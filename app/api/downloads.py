"""A finished task's result streamed through the service (Jimeng's URLs expire, and clients may not
reach them): one answer for every route that downloads one."""
from __future__ import annotations

from flask import Response, request, stream_with_context

from app import errors
from app.api import context
from app.api.answers import state_json
from app.services import content
from app.services.tasks import task_state


def result_answer(kind: str, task_id: str) -> Response:
    """The finished task's bytes (Range supported), or with `?format=b64_json` {"b64_json": ...};
    409 while it is not finished."""
    state = task_state(kind, task_id, context.tokens(), context.client(), context.task_settings())
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
