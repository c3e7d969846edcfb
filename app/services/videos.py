"""Submitting a video task: validate against the catalogue, fetch and upload media, generate.

Order matters: every check that needs no network runs first, so a bad request costs nothing;
the generate call is made once and never repeated (it costs credits).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app import errors
from app.serving import metrics
from app.jimeng import payloads, uploads
from app.jimeng.assets import Frame, Material, Media, VideoDraft
from app.jimeng.client import JimengClient
from app.jimeng.models import (DEFAULT_VIDEO_MODEL, FIRST_LAST, MAIN_REFERENCE, MULTI_FRAME, OMNI_REFERENCE,
                               VIDEO_MODELS, VIDEO_RATIOS, VideoModel, video_models_in, video_modes_in)
from app.jimeng.regions import Token
from app.services import idempotency as idem
from app.services.catalogue import AccountModels
from app.services.idempotency import IdempotencyKey
from app.services.submitting import (MediaInput, rewind_all, SubmitSettings, SubmittedTask, load_media, send_generate,
                                     upload_checked_image)
from app.task_ids import short_form

log = logging.getLogger(__name__)


@dataclass
class FrameInput:
    media: MediaInput
    prompt: str
    duration_ms: int


@dataclass
class VideoRequest:
    prompt: str = ""
    model: str | None = None
    mode: str = FIRST_LAST
    ratio: str | None = None
    resolution: str | None = None
    duration: int | None = None
    images: list[MediaInput] = field(default_factory=list)      # first_last_frames, main_reference
    frames: list[FrameInput] = field(default_factory=list)      # multi_frame
    materials: list[MediaInput] = field(default_factory=list)   # omni_reference, in material order
    webhook: object | None = None     # app.webhooks.registration.WebhookRequest, when one was asked for

    def rewind(self) -> None:
        rewind_all([*self.images, *(f.media for f in self.frames), *self.materials])


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed every offline check, with the token and model it will use."""

    token: Token
    model: VideoModel
    mode: str
    ratio: str
    duration_s: int
    resolution: str
    account: AccountModels | None = None


def check_request(req: VideoRequest, tokens: Sequence[Token], choose: Callable,
                  models_for: Callable[[Token], AccountModels] | None = None) -> CheckedRequest:
    """Every check before any upload: model, region, mode, numbers, media counts, prompt references.
    With `models_for` (the live catalogue), also whether the chosen account can use the model now:
    the first account that can is taken, and the model's resolutions and benefits are Jimeng's."""
    if req.model is not None and req.model not in VIDEO_MODELS:
        raise errors.UnsupportedModel(f"unknown model {req.model!r}; models: {', '.join(VIDEO_MODELS)}",
                                      param="model")
    usable = [t for t in tokens if _offers(t.region.code, req.model, req.mode)]
    if not usable:
        region = tokens[0].region.code
        name = req.model or DEFAULT_VIDEO_MODEL[region]
        if req.model and req.model not in video_models_in(region):
            raise errors.UnsupportedModel(
                f"model {name!r} is not available in region {region}; available: "
                f"{', '.join(video_models_in(region))}", param="model")
        modes = video_modes_in(VIDEO_MODELS[name], region)
        raise errors.InvalidRequest(f"model {name!r} has no mode {req.mode!r} in region {region}; "
                                    f"modes: {', '.join(modes)}", param="function_mode")
    # Everything the account does not change is checked before the live catalogue is read, so a bad
    # request costs no upstream call.
    static = VIDEO_MODELS[req.model or DEFAULT_VIDEO_MODEL[usable[0].region.code]]
    ratio, duration_s = _check_offline(req, static)
    token, account = _choose_account(usable, req.model, choose, models_for)
    model = VIDEO_MODELS[req.model or DEFAULT_VIDEO_MODEL[token.region.code]]
    if model is not static:   # another region's default: its own limits
        ratio, duration_s = _check_offline(req, model)
    if account is not None:
        model = account.merged(model)
    resolution = req.resolution or model.resolutions[0]
    if resolution not in model.resolutions:
        raise errors.InvalidRequest(f"{model.name} supports resolution {', '.join(model.resolutions)}",
                                    param="resolution")
    return CheckedRequest(token, model, req.mode, ratio, duration_s, resolution, account)


def _check_offline(req: VideoRequest, model: VideoModel) -> tuple[str, int]:
    """Ratio, duration or frames, prompt, media counts and references: (ratio, seconds)."""
    limits = model.limits(req.mode)
    ratio = req.ratio or ("16:9" if req.mode == MULTI_FRAME else "1:1")
    if ratio not in VIDEO_RATIOS:
        raise errors.InvalidRequest(f"ratio must be one of {', '.join(VIDEO_RATIOS)}", param="ratio")
    if req.mode == MULTI_FRAME:
        duration_s = _check_frames(req.frames, limits)
    else:
        duration_s = model.default_duration if req.duration is None else req.duration
        if duration_s not in model.durations:
            allowed = _describe_durations(model.durations)
            raise errors.InvalidRequest(f"{model.name} takes duration {allowed} seconds", param="duration")
    if not req.prompt.strip() and req.mode != MULTI_FRAME:
        raise errors.InvalidRequest("prompt is required", param="prompt")
    if req.mode in (FIRST_LAST, MAIN_REFERENCE):
        _check_count("images", len(req.images), limits.min_images, limits.max_images)
    if req.mode == MAIN_REFERENCE:
        payloads.parse_main_reference_prompt(req.prompt, len(req.images))
    if req.mode == OMNI_REFERENCE:
        videos = [m for m in req.materials if m.expected_kind == "video"]
        _check_count("materials", len(req.materials), limits.min_materials, limits.max_materials)
        _check_count("images", len(req.materials) - len(videos), 0, limits.max_images)
        _check_count("videos", len(videos), 0, limits.max_videos)
    return ratio, duration_s


def _choose_account(usable: list[Token], model_name: str | None, choose: Callable,
                    models_for: Callable[[Token], AccountModels] | None) -> tuple[Token, AccountModels | None]:
    """A token whose account offers the model now (live catalogue), in `choose` order."""
    candidates = list(usable)
    first_refusal: errors.ModelUnavailable | None = None
    while True:
        token = choose(candidates)
        if models_for is None:
            return token, None
        account = models_for(token)
        model = VIDEO_MODELS[model_name or DEFAULT_VIDEO_MODEL[token.region.code]]
        if account.offers(model):
            return token, account
        first_refusal = first_refusal or account.unavailable(model)
        candidates.remove(token)
        if not candidates:
            raise first_refusal


def _offers(region: str, model_name: str | None, mode: str) -> bool:
    model = VIDEO_MODELS.get(model_name or DEFAULT_VIDEO_MODEL[region])
    return model is not None and region in model.regions and mode in video_modes_in(model, region)


def _describe_durations(durations: tuple[int, ...]) -> str:
    if len(durations) > 3 and durations == tuple(range(durations[0], durations[-1] + 1)):
        return f"{durations[0]} to {durations[-1]}"
    return " or ".join(str(d) for d in durations)


def _check_count(what: str, n: int, low: int, high: int) -> None:
    if not low <= n <= high:
        span = f"exactly {low}" if low == high else f"{low} to {high}"
        raise errors.InvalidRequest(f"this mode takes {span} {what}, got {n}", param=what)


def _check_frames(frames: list[FrameInput], limits) -> int:
    _check_count("frames", len(frames), limits.min_images, limits.max_images)
    for i, frame in enumerate(frames):
        if not limits.min_frame_ms <= frame.duration_ms <= limits.max_frame_ms:
            raise errors.InvalidRequest(
                f"frame {i + 1} lasts {frame.duration_ms} ms; each frame takes "
                f"{limits.min_frame_ms}-{limits.max_frame_ms} ms", param=f"frames[{i}].duration")
    total = sum(f.duration_ms for f in frames)
    if total > limits.max_total_ms:
        raise errors.InvalidRequest(f"frames last {total} ms in all; at most {limits.max_total_ms} ms",
                                    param="frames")
    return max(1, round(total / 1000))


def build_draft(req: VideoRequest, checked: CheckedRequest, client: JimengClient,
                settings: SubmitSettings) -> VideoDraft:
    """Fetch every input first (so a bad URL fails before any upload), then upload."""
    token = checked.token
    common = dict(model=checked.model, mode=checked.mode, prompt=req.prompt, ratio=checked.ratio,
                  duration_s=checked.duration_s, resolution=checked.resolution, aid=token.region.aid)
    if checked.mode == MULTI_FRAME:
        loaded = [load_media(f.media, settings, "image") for f in req.frames]
        frames = tuple(Frame(image=upload_checked_image(client, token, m), prompt=f.prompt, duration_ms=f.duration_ms)
                       for f, m in zip(req.frames, loaded))
        return VideoDraft(frames=frames, **common)
    if checked.mode == OMNI_REFERENCE:
        loaded = [load_media(m, settings, m.expected_kind) for m in req.materials]
        _check_video_seconds(loaded, checked.model.limits(OMNI_REFERENCE).max_video_seconds)
        materials = []
        for item, m in zip(req.materials, loaded):
            if m.kind == "video":
                materials.append(Material(name=item.field, video=uploads.upload_video(client, token, m),
                                          alias=item.filename))
            else:
                materials.append(Material(name=item.field, image=upload_checked_image(client, token, m),
                                          alias=item.filename))
        return VideoDraft(materials=tuple(materials), **common)
    loaded = [load_media(i, settings, "image") for i in req.images]
    return VideoDraft(images=tuple(upload_checked_image(client, token, m) for m in loaded), **common)


def _check_video_seconds(loaded: list[Media], limit: float) -> None:
    videos = [m for m in loaded if m.kind == "video"]
    for m in videos:
        if m.duration_s > limit:
            raise errors.InvalidRequest(f"{m.field} lasts {m.duration_s:.1f} s; at most {limit:g} s",
                                        param=m.field)
    total = sum(m.duration_s for m in videos)
    if total > limit:
        raise errors.InvalidRequest(f"the videos last {total:.1f} s together; at most {limit:g} s",
                                    param="video_file")


def check_prompts(req: VideoRequest, limit: int) -> None:
    """Every prompt within `limit` characters (400 naming the one that is not)."""
    named = [("prompt", req.prompt)] + [(f"frames[{i}].prompt", f.prompt) for i, f in enumerate(req.frames)]
    for param, text in named:
        if len(text) > limit:
            raise errors.InvalidRequest(f"{param} has {len(text)} characters; at most {limit}", param=param)


def submit_video(req: VideoRequest, tokens: Sequence[Token], client: JimengClient,
                 settings: SubmitSettings, *, idempotency: IdempotencyKey | None = None) -> SubmittedTask:
    """Check, upload, generate once. With an `Idempotency-Key`, an earlier task made with the same
    key (and body) is answered instead, and nothing is sent again (app/services/idempotency.py)."""
    check_prompts(req, settings.max_prompt_chars)
    catalogue = settings.catalogue
    models_for = (lambda token: catalogue.for_token(client, token)) if catalogue is not None else None
    checked = check_request(req, tokens, idem.chooser(idempotency, settings), models_for)
    claim = idem.claim("video", idempotency, checked.token, tokens, client, settings, lambda: _digest(req, checked))
    if claim.earlier_task_id is not None:
        return SubmittedTask(task_id=claim.earlier_task_id, created=claim.earlier_created, model=checked.model.name,
                             ratio=checked.ratio, resolution=checked.resolution, duration=checked.duration_s)
    return idem.submitted_under(claim, settings, lambda: _send(req, checked, claim, client, settings))


def _send(req: VideoRequest, checked: CheckedRequest, claim: idem.Claim, client: JimengClient,
          settings: SubmitSettings) -> SubmittedTask:
    """Upload, build the draft, generate once."""
    catalogue = settings.catalogue
    draft = build_draft(req, checked, client, settings)
    workspace_id = settings.workspaces.for_token(client, checked.token) if settings.workspaces else None
    body = payloads.build_video_generate_body(draft, submit_id=claim.submit_id, workspace_id=workspace_id,
                                              origin_submit_id=claim.origin_submit_id)
    idem.before_generate(claim, settings)
    try:
        task_id, created = send_generate("video", checked.token, body, client, settings)
    except errors.ModelUnavailable as exc:
        # ret 2061: Jimeng no longer offers it to this account. Nothing was created; say what is offered.
        if catalogue is not None:
            catalogue.refused(checked.token, checked.model)
            account = catalogue.for_token(client, checked.token)
        else:
            account = AccountModels(checked.token.region.code, None, frozenset({checked.model.req_key}))
        refusal = account.unavailable(checked.model)
        refusal.extra.update(exc.extra)
        raise refusal from None
    metrics.submitted("video", checked.model.name, checked.mode)
    log.info("video submitted", extra={"task": short_form(task_id), "model": checked.model.name,
                                       "mode": checked.mode, "region": checked.token.region.code})
    return SubmittedTask(task_id=task_id, created=created, model=checked.model.name, ratio=checked.ratio,
                         resolution=checked.resolution, duration=checked.duration_s)


def _digest(req: VideoRequest, checked: CheckedRequest) -> bytes:
    """What the request asks for once defaults are filled in, independent of JSON or multipart and
    of which route shaped it."""
    fields = {"prompt": req.prompt, "model": checked.model.name, "mode": checked.mode, "ratio": checked.ratio,
              "resolution": checked.resolution, "duration": checked.duration_s,
              "frames": [(f.prompt, f.duration_ms) for f in req.frames]}
    media = [(m.field, m.url, m.stream) for m in [*req.images, *(f.media for f in req.frames), *req.materials]]
    return idem.body_digest(fields, media)

