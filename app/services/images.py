"""Submitting an image task: text to image, or image to image with reference images.

Same order as videos: every check that needs no network first (a bad request costs nothing), then
the references are fetched (all of them, so a bad URL fails before any upload), uploaded and
content-checked, then one generate call that asks Jimeng for exactly `count` images.
With an `Idempotency-Key`, the same mechanism as videos (app/services/idempotency.py): an earlier
task made with the same key and body is answered instead, and nothing is sent again.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app import errors
from app.serving import metrics
from app.jimeng.assets import ImageDraft
from app.jimeng.client import JimengClient
from app.jimeng.image_payloads import build_image_generate_body
from app.jimeng.models import (DEFAULT_IMAGE_MODEL, IMAGE_ALIASES, IMAGE_MODELS, MAX_IMAGES, ImageModel,
                               image_models_in)
from app.jimeng.regions import Token
from app.services import idempotency as idem
from app.services.idempotency import IdempotencyKey
from app.services.openai_images import resolve_size
from app.services.submitting import (MediaInput, rewind_all, SubmitSettings, SubmittedTask, load_media, send_generate,
                                     upload_checked_image)

log = logging.getLogger(__name__)

MAX_REFERENCES = 10     # iptag: image to image takes 1..10 images (protocol 4.5)


@dataclass
class ImageRequest:
    prompt: str = ""
    model: str | None = None
    ratio: str | None = None
    resolution: str | None = None
    count: int = 1
    negative_prompt: str = ""
    sample_strength: float = 0.5
    size: str | None = None          # OpenAI's `size` (e.g. 1024x1024), mapped onto ratio + resolution
    quality: str | None = None       # OpenAI's `quality`, mapped onto a resolution
    references: list[MediaInput] = field(default_factory=list)
    webhook: object | None = None     # app.webhooks.registration.WebhookRequest, when one was asked for

    def rewind(self) -> None:
        rewind_all(self.references)


@dataclass(frozen=True)
class CheckedImageRequest:
    token: Token
    model: ImageModel
    ratio: str
    resolution: str


def model_named(name: str | None) -> ImageModel | None:
    """The catalogue entry for a public name or an older alias; None for no name."""
    if name is None:
        return None
    model = IMAGE_MODELS.get(IMAGE_ALIASES.get(name, name))
    if model is None:
        raise errors.UnsupportedModel(f"unknown image model {name!r}; models: {', '.join(IMAGE_MODELS)}",
                                      param="model")
    return model


def check_image_request(req: ImageRequest, tokens: Sequence[Token], choose: Callable[[Sequence[Token]], Token],
                        max_prompt_chars: int) -> CheckedImageRequest:
    """Every check before any upload: model and region, ratio, resolution (or size), count, prompt."""
    named = model_named(req.model)
    usable = [t for t in tokens if named is None or t.region.code in named.regions]
    if not usable:
        region = tokens[0].region.code
        raise errors.UnsupportedModel(f"model {named.name!r} is not available in region {region}; available: "
                                      f"{', '.join(image_models_in(region))}", param="model")
    token = choose(usable)
    model = named or IMAGE_MODELS[DEFAULT_IMAGE_MODEL[token.region.code]]
    if not req.prompt.strip():
        raise errors.InvalidRequest("prompt is required", param="prompt")
    for param, text in (("prompt", req.prompt), ("negative_prompt", req.negative_prompt)):
        if len(text) > max_prompt_chars:
            raise errors.InvalidRequest(f"{param} has {len(text)} characters; at most {max_prompt_chars}", param=param)
    if not 1 <= req.count <= MAX_IMAGES:
        raise errors.InvalidRequest(f"n must be 1 to {MAX_IMAGES}", param="n")
    if not 0 <= req.sample_strength <= 1:
        raise errors.InvalidRequest("sample_strength must be between 0 and 1", param="sample_strength")
    ratio, resolution = resolve_size(model, size=req.size, quality=req.quality, ratio=req.ratio,
                                     resolution=req.resolution)
    if len(req.references) > MAX_REFERENCES:
        raise errors.InvalidRequest(f"give at most {MAX_REFERENCES} reference images, got {len(req.references)}",
                                    param="images")
    return CheckedImageRequest(token, model, ratio, resolution)


def submit_image(req: ImageRequest, tokens: Sequence[Token], client: JimengClient,
                 settings: SubmitSettings, *, idempotency: IdempotencyKey | None = None) -> SubmittedTask:
    """One image task of `req.count` images; its task id carries the count."""
    checked = check_image_request(req, tokens, idem.chooser(idempotency, settings), settings.max_prompt_chars)
    token = checked.token
    claim = idem.claim("image", idempotency, token, tokens, client, settings, lambda: _digest(req, checked),
                       count=req.count)
    if claim.earlier_task_id is not None:
        return SubmittedTask(task_id=claim.earlier_task_id, created=claim.earlier_created, model=checked.model.name)
    return idem.submitted_under(claim, settings, lambda: _send(req, checked, claim, client, settings))


def _send(req: ImageRequest, checked: CheckedImageRequest, claim: idem.Claim, client: JimengClient,
          settings: SubmitSettings) -> SubmittedTask:
    """Upload the references, build the draft, generate once."""
    token = checked.token
    loaded = [load_media(ref, settings, "image") for ref in req.references]
    references = tuple(upload_checked_image(client, token, m) for m in loaded)
    draft = ImageDraft(model=checked.model, region=token.region.code, prompt=req.prompt, ratio=checked.ratio,
                       resolution=checked.resolution, count=req.count, negative_prompt=req.negative_prompt,
                       sample_strength=req.sample_strength, references=references, aid=token.region.aid)
    workspace_id = settings.workspaces.for_token(client, token) if settings.workspaces else None
    body = build_image_generate_body(draft, submit_id=claim.submit_id, workspace_id=workspace_id,
                                     origin_submit_id=claim.origin_submit_id)
    idem.before_generate(claim, settings)
    task_id, submitted_at = send_generate("image", token, body, client, settings, count=req.count)
    metrics.submitted("image", checked.model.name, "references" if references else "text")
    log.info("image submitted", extra={"model": checked.model.name, "region": token.region.code,
                                       "count": req.count, "references": len(references)})
    return SubmittedTask(task_id=task_id, created=submitted_at, model=checked.model.name)


def _digest(req: ImageRequest, checked: CheckedImageRequest) -> bytes:
    """What the request asks for once defaults are filled in (size and quality resolved), the same
    from each image route, JSON or multipart."""
    fields = {"prompt": req.prompt, "model": checked.model.name, "ratio": checked.ratio,
              "resolution": checked.resolution, "count": req.count, "negative_prompt": req.negative_prompt,
              "sample_strength": req.sample_strength}
    # By position, not field name: `images` (ours) and `image[]` (OpenAI's edit) name the same thing.
    return idem.body_digest(fields, [("reference", m.url, m.stream) for m in req.references])

