"""Submitting an image task: the image's part of the one submit orchestration (app/services/submitter.py),
text to image, or image to image with reference images.

Same order as videos: every check that needs no network first (a bad request costs nothing), then
the references are fetched (all of them, so a bad URL fails before any upload), uploaded and
content-checked; the one generate call asks Jimeng for exactly `count` images.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app import errors
from app.jimeng.assets import ImageDraft
from app.jimeng.client import JimengClient
from app.jimeng.image_payloads import build_image_generate_body
from app.jimeng.models import (DEFAULT_IMAGE_MODEL, IMAGE_ALIASES, IMAGE_MODELS, MAX_IMAGES, MAX_REFERENCE_IMAGES,
                               ImageModel, image_models_in)
from app.jimeng.regions import Token
from app.services import idempotency as idem
from app.services.catalogue import AccountModels
from app.services.openai_shapes import resolve_size
from app.services.submitting import (MediaInput, SubmitFlow, SubmitSettings, SubmittedTask, WebhookRequest, load_media,
                                     rewind_all, upload_checked_image)

MAX_REFERENCES = MAX_REFERENCE_IMAGES


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
    webhook: WebhookRequest | None = None     # when one was asked for

    def rewind(self) -> None:
        rewind_all(self.references)


@dataclass(frozen=True)
class CheckedImageRequest:
    token: Token
    model: ImageModel
    ratio: str
    resolution: str
    count: int
    references: int

    @property
    def mode(self) -> str:
        return "references" if self.references else "text"

    def answer(self, task_id: str, created: int) -> SubmittedTask:
        return SubmittedTask(task_id=task_id, created=created, model=self.model.name)


def model_named(name: str | None) -> ImageModel | None:
    """The catalogue entry for a public name or an older alias; None for no name."""
    if name is None:
        return None
    model = IMAGE_MODELS.get(IMAGE_ALIASES.get(name, name))
    if model is None:
        raise errors.UnsupportedModel(f"unknown image model {name!r}; models: {', '.join(IMAGE_MODELS)}",
                                      param="model")
    return model


def check(req: ImageRequest, tokens: Sequence[Token], settings: SubmitSettings) -> list[Token]:
    """Every check before any upload that no account changes: model and region, prompt, count,
    strength, references, size. The tokens whose region offers the model."""
    named = model_named(req.model)
    usable = [t for t in tokens if named is None or t.region.code in named.regions]
    if not usable:
        region = tokens[0].region.code
        raise errors.UnsupportedModel(f"model {named.name!r} is not available in region {region}; available: "
                                      f"{', '.join(image_models_in(region))}", param="model")
    if not req.prompt.strip():
        raise errors.InvalidRequest("prompt is required", param="prompt")
    limit = settings.max_prompt_chars
    for param, text in (("prompt", req.prompt), ("negative_prompt", req.negative_prompt)):
        if len(text) > limit:
            raise errors.InvalidRequest(f"{param} has {len(text)} characters; at most {limit}", param=param)
    if not 1 <= req.count <= MAX_IMAGES:
        raise errors.InvalidRequest(f"n must be 1 to {MAX_IMAGES}", param="n")
    if not 0 <= req.sample_strength <= 1:
        raise errors.InvalidRequest("sample_strength must be between 0 and 1", param="sample_strength")
    if len(req.references) > MAX_REFERENCES:
        raise errors.InvalidRequest(f"give at most {MAX_REFERENCES} reference images, got {len(req.references)}",
                                    param="images")
    on_account(req, usable[0], None)     # size and resolution, as the first usable region's model has them
    return usable


def on_account(req: ImageRequest, token: Token, account: AccountModels | None) -> CheckedImageRequest:
    """The request on `token`'s account: the named model, or its region's default, and the ratio and
    resolution that model makes of the size (image models have no live catalogue: `account` is None)."""
    model = model_named(req.model) or IMAGE_MODELS[DEFAULT_IMAGE_MODEL[token.region.code]]
    ratio, resolution = resolve_size(model, size=req.size, quality=req.quality, ratio=req.ratio,
                                     resolution=req.resolution)
    return CheckedImageRequest(token, model, ratio, resolution, req.count, len(req.references))


def upload(req: ImageRequest, checked: CheckedImageRequest, client: JimengClient,
           settings: SubmitSettings) -> ImageDraft:
    """Fetch every reference first (so a bad URL fails before any upload), then upload and check them."""
    token = checked.token
    loaded = [load_media(ref, settings, "image") for ref in req.references]
    references = tuple(upload_checked_image(client, token, m) for m in loaded)
    return ImageDraft(model=checked.model, region=token.region.code, prompt=req.prompt, ratio=checked.ratio,
                      resolution=checked.resolution, count=req.count, negative_prompt=req.negative_prompt,
                      sample_strength=req.sample_strength, references=references, aid=token.region.aid)


def digest(req: ImageRequest, checked: CheckedImageRequest) -> bytes:
    """What the request asks for once defaults are filled in (size and quality resolved), the same
    from each image route, JSON or multipart."""
    fields = {"prompt": req.prompt, "model": checked.model.name, "ratio": checked.ratio,
              "resolution": checked.resolution, "count": req.count, "negative_prompt": req.negative_prompt,
              "sample_strength": req.sample_strength}
    # By position, not field name: `images` (ours) and `image[]` (OpenAI's edit) name the same thing.
    return idem.body_digest(fields, [("reference", m.url, m.stream) for m in req.references])


FLOW = SubmitFlow(kind="image", check=check, live_model=lambda req, token: None, on_account=on_account, digest=digest,
                  upload=upload, payload=build_image_generate_body)
