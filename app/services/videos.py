"""Submitting a video task: the video's part of the one submit orchestration (app/services/submitter.py):
its checks against the catalogue, its media fetched and uploaded, its draft.

Order matters: every check that needs no network runs first, so a bad request costs nothing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app import errors
from app.jimeng import payloads, uploads
from app.jimeng.assets import Frame, Material, Media, VideoDraft
from app.jimeng.client import JimengClient
from app.jimeng.models import (DEFAULT_VIDEO_MODEL, FIRST_LAST, FPS, MAIN_REFERENCE, MULTI_FRAME, OMNI_REFERENCE,
                               VIDEO_MODELS, VIDEO_RATIOS, VideoModel, video_models_in, video_modes_in)
from app.jimeng.regions import Token
from app.services import idempotency as idem
from app.services.catalogue import AccountModels
from app.services.submitting import (MediaInput, SubmitFlow, SubmitSettings, SubmittedTask, WebhookRequest, load_media,
                                     rewind_all, upload_checked_image)


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
    fps: int | None = None
    images: list[MediaInput] = field(default_factory=list)      # first_last_frames, main_reference
    frames: list[FrameInput] = field(default_factory=list)      # multi_frame
    materials: list[MediaInput] = field(default_factory=list)   # omni_reference, in material order
    webhook: WebhookRequest | None = None     # when one was asked for

    def rewind(self) -> None:
        rewind_all([*self.images, *(f.media for f in self.frames), *self.materials])


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed every check, with the token and model it will use."""

    token: Token
    model: VideoModel
    mode: str
    ratio: str
    duration_s: int
    resolution: str
    fps: int
    count: int = 0      # a video task is one video: its id carries no count

    def answer(self, task_id: str, created: int) -> SubmittedTask:
        return SubmittedTask(task_id=task_id, created=created, model=self.model.name, ratio=self.ratio,
                             resolution=self.resolution, duration=self.duration_s)


def check(req: VideoRequest, tokens: Sequence[Token], settings: SubmitSettings) -> list[Token]:
    """Every check before any upload that no account changes: prompts, model, region, mode, numbers,
    media counts, prompt references. The tokens whose region offers the model and mode."""
    check_prompts(req, settings.max_prompt_chars)
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
    _check_offline(req, model_on(req, usable[0]))
    return usable


def model_on(req: VideoRequest, token: Token) -> VideoModel:
    """The model the request names, or the default of the token's region."""
    return VIDEO_MODELS[req.model or DEFAULT_VIDEO_MODEL[token.region.code]]


def on_account(req: VideoRequest, token: Token, account: AccountModels | None) -> CheckedRequest:
    """The request on `token`'s account: its region's model (another region's default has its own
    limits), and with the live catalogue the account's own resolutions and benefits."""
    model = model_on(req, token)
    ratio, duration_s, fps = _check_offline(req, model)
    if account is not None:
        model = account.merged(model)
    resolution = req.resolution or model.resolutions[0]
    if resolution not in model.resolutions:
        raise errors.InvalidRequest(f"{model.name} supports resolution {', '.join(model.resolutions)}",
                                    param="resolution")
    return CheckedRequest(token, model, req.mode, ratio, duration_s, resolution, fps)


def _check_offline(req: VideoRequest, model: VideoModel) -> tuple[str, int, int]:
    """Ratio, duration or frames, frame rate, prompt, media counts and references: (ratio, seconds, fps)."""
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
    fps = model.frame_rates[0] if req.fps is None else req.fps
    if fps not in model.frame_rates:
        raise errors.InvalidRequest(f"{model.name} makes fps {' or '.join(map(str, model.frame_rates))}; got {fps}",
                                    param="fps")
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
    return ratio, duration_s, fps


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


def upload(req: VideoRequest, checked: CheckedRequest, client: JimengClient, settings: SubmitSettings) -> VideoDraft:
    """Fetch every input first (so a bad URL fails before any upload), then upload."""
    token = checked.token
    common = dict(model=checked.model, mode=checked.mode, prompt=req.prompt, ratio=checked.ratio,
                  duration_s=checked.duration_s, resolution=checked.resolution, fps=checked.fps, aid=token.region.aid)
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


def digest(req: VideoRequest, checked: CheckedRequest) -> bytes:
    """What the request asks for once defaults are filled in, independent of JSON or multipart and
    of which route shaped it."""
    fields = {"prompt": req.prompt, "model": checked.model.name, "mode": checked.mode, "ratio": checked.ratio,
              "resolution": checked.resolution, "duration": checked.duration_s,
              "frames": [(f.prompt, f.duration_ms) for f in req.frames]}
    if checked.fps != FPS:      # only then: digests of keys used before fps was a field stay the same
        fields["fps"] = checked.fps
    media = [(m.field, m.url, m.stream) for m in [*req.images, *(f.media for f in req.frames), *req.materials]]
    return idem.body_digest(fields, media)


FLOW = SubmitFlow(kind="video", check=check, live_model=model_on, on_account=on_account, digest=digest,
                  upload=upload, payload=payloads.build_video_generate_body)
