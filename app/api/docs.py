"""/docs: the spec's introduction, and Swagger UI's files served locally (the page must work on machines
without internet)."""
from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("docs_static", __name__)

INTRODUCTION = """\
An asynchronous, OpenAI-style API over Jimeng's video and image generation: submit a task, then follow
it by its `task_id` (or the OpenAI SDK's routes under `/v1/videos` and `/v1/images`).

**Your token.** Press **Authorize** and give a Jimeng session id (the `sessionid` cookie of a logged-in
jimeng.jianying.com page; `us-`, `hk-`, `jp-` or `sg-` in front for an abroad account; several,
comma separated). A service run in company mode takes its API key there instead.

**Trying it without a Jimeng account.** `make try` starts the service in front of the sandbox, our
fake Jimeng, and prints the URL and a token to use: the sandbox takes any session id, and every
example on this page runs against it as it stands (images travel as data URIs). A sandbox task's
prompt may carry `[sandbox:queue=1] [sandbox:generate=1]` to finish in seconds.
"""


@bp.get("/docs/static/<path:filename>")
def swagger_static(filename: str):
    return send_from_directory(swagger_ui_path, filename, max_age=3600)
