"""Image routes: text to image, image to image (ours and OpenAI's edits), and image tasks.

By default they answer as OpenAI's image API does, once the images exist; with `"async": true`
or `Prefer: respond-async` they answer at once with a task, followed like a video task.
"""
from __future__ import annotations

import json

from flask_smorest import Blueprint

from app import errors
from app.api import context
from app.api.answers import submitted_json
from app.api.blocking import blocking_answer
from app.api.docs_examples import FIRST_FRAME, SECOND_IMAGE
from app.services.openai_shapes import resolve_alias
from app.api.request_body import body_fields, preferred_wait_seconds, prefers_async, spooled_media, uploaded_files
from app.api.task_routes import add_task_routes
from app.jimeng.models import DEFAULT_IMAGE_MODEL
from app.schemas.images import REFERENCE_FILE_FIELDS, ImageFormSchema, ImageRequestSchema, ImagesAnswerSchema
from app.schemas.tasks import IDEMPOTENCY_PARAMETER, PREFER_PARAMETER, SubmittedSchema
from app.services.images import ImageRequest
from app.services.submitting import MediaInput, WebhookRequest

blp = Blueprint("images", __name__, url_prefix="/v1/images",
                description="Images: OpenAI-compatible answers at once, or tasks like videos")
KIND = "image"

_TEXT_EXAMPLE = {"model": "jimeng-5.0-pro", "prompt": "a red fox in fresh snow, golden hour", "ratio": "16:9",
                 "resolution": "2k", "n": 2, "response_format": "url"}
_OPENAI_EXAMPLE = {"prompt": "a red fox in fresh snow", "n": 1, "size": "1024x1024", "quality": "hd"}
_COMPOSE_EXAMPLE = {"prompt": "the shape of the first picture in the colour of the second", "ratio": "4:3",
                    "images": [FIRST_FRAME, SECOND_IMAGE]}
_HEADERS = [PREFER_PARAMETER, IDEMPOTENCY_PARAMETER]
_ANSWERS = {"200": {"description": "OpenAI's images answer (default), or with `async` a task: "
                                   "`{created, task_id, status, model}`",
                    "content": {"application/json": {"schema": ImagesAnswerSchema}}}}


def _body_doc(example: dict) -> dict:
    return {"content": {"application/json": {"schema": ImageRequestSchema, "example": example},
                        "multipart/form-data": {"schema": ImageFormSchema}}}


def _references(fields: dict) -> list[MediaInput]:
    """Uploaded files first (in upload order), then URL / data URI fields."""
    files = uploaded_files()
    for f in files:
        if f.field not in REFERENCE_FILE_FIELDS:
            if f.field == "mask":
                raise errors.InvalidRequest("mask is not supported: Jimeng edits whole images", param="mask")
            raise errors.InvalidRequest(f"reference images go in {', '.join(REFERENCE_FILE_FIELDS)}, "
                                        f"not {f.field!r}", param=f.field)
    urls = [spooled_media(MediaInput(field=f"images[{i}]", url=u)) for i, u in enumerate(fields["images"]) if u]
    return [*files, *urls]


def _submit(*, compose: bool):
    who = context.caller()      # 401 comes before any body problem
    idem_key = context.idempotency()
    fields = ImageRequestSchema().load(body_fields(spool_data_uris=True))
    references = _references(fields)
    if compose and not references:
        raise errors.InvalidRequest("give 1 to 10 reference images (images: URLs or data URIs, or files)",
                                    param="images")
    if not compose and references:
        raise errors.InvalidRequest("text to image takes no images; send them to /v1/images/compositions",
                                    param="images")
    # OPENAI_MODEL_ALIASES (off by default): e.g. dall-e-3 -> "default", the region's default image model.
    model = resolve_alias(fields["model"], context.config().OPENAI_MODEL_ALIASES, who.tokens[0].region.code,
                          DEFAULT_IMAGE_MODEL)
    req = ImageRequest(prompt=fields["prompt"], model=model, ratio=fields["ratio"],
                       resolution=fields["resolution"], count=fields["n"], negative_prompt=fields["negative_prompt"],
                       sample_strength=fields["sample_strength"], size=fields["size"], quality=fields["quality"],
                       references=references, webhook=WebhookRequest.from_fields(fields))
    asked_async = prefers_async()
    if fields["respond_async"] or asked_async:
        body = submitted_json(context.submitter().submit(req, who, idempotency=idem_key))
        # RFC 7240: name the preference honoured; a body's `"async": true` was no preference.
        return (body, {"Preference-Applied": "respond-async"}) if asked_async else body
    # OpenAI's answer waits for the images (IMAGE_WAIT_TIMEOUT, under the SDK's read timeout); `Prefer: wait=N`
    # bounds it instead: 202 with the task.
    cfg = context.config()
    wait_s = preferred_wait_seconds(cfg.WAIT_TIMEOUT)
    default_s = min(cfg.WAIT_TIMEOUT, cfg.IMAGE_WAIT_TIMEOUT)
    return blocking_answer(req, who, idem_key, response_format=fields["response_format"],
                           wait_s=default_s if wait_s is None else wait_s, quiet=wait_s is not None,
                           applied=None if wait_s is None else f"wait={wait_s}")


@blp.post("/generations")
@blp.doc(requestBody=_body_doc(_TEXT_EXAMPLE), security=[{"bearer": []}], parameters=_HEADERS,
         responses=_ANSWERS, summary="Text to image", description=(
             "Makes `n` images (1-8). Answers OpenAI's `{created, data: [{url|b64_json, revised_prompt}]}` once "
             "they exist; with `\"async\": true` or `Prefer: respond-async`, at once with a task "
             "(follow it at /v1/images/tasks/{task_id}). OpenAI's form works too: "
             f"`{json.dumps(_OPENAI_EXAMPLE)}`."))
@blp.response(200, SubmittedSchema)
def generations():
    return _submit(compose=False)


@blp.post("/compositions")
@blp.doc(requestBody=_body_doc(_COMPOSE_EXAMPLE), security=[{"bearer": []}], parameters=_HEADERS,
         responses=_ANSWERS,
         summary="Image to image", description=(
             "The generation fields plus 1-10 reference images: `images` as URLs or data URIs (JSON), or files "
             "(multipart). Each is uploaded to Jimeng and content-checked, as for videos."))
@blp.response(200, SubmittedSchema)
def compositions():
    return _submit(compose=True)


@blp.post("/edits")
@blp.doc(requestBody=_body_doc(_COMPOSE_EXAMPLE), security=[{"bearer": []}], parameters=_HEADERS,
         responses=_ANSWERS,
         summary="OpenAI's image edit: image to image", description=(
             "OpenAI's edit form (multipart `image` or `image[]`, `prompt`, `n`, `size`, `response_format`) "
             "mapped onto /v1/images/compositions. `mask` is refused (Jimeng has no masks)."))
@blp.response(200, SubmittedSchema)
def edits():
    return _submit(compose=True)


add_task_routes(blp, KIND)
