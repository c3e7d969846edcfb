"""Submitting a video task: validate against the catalogue, fetch and upload media, generate.

Order matters: every check that needs no network runs first, so a bad request costs nothing;
the generate call is made once and never repeated (it costs credits).
"""
from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import BinaryIO

from app import errors, media, metrics
from app.jimeng import payloads, uploads
from app.jimeng.assets import Frame, Material, Media, UploadedImage, VideoDraft
from app.jimeng.client import JimengClient
from app.jimeng.models import (DEFAULT_VIDEO_MODEL, FIRST_LAST, MAIN_REFERENCE, MULTI_FRAME, OMNI_REFERENCE,
                               VIDEO_MODELS, VIDEO_RATIOS, VideoModel, video_models_in, video_modes_in)
from app.jimeng.regions import Token
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId

log = logging.getLogger(__name__)


@dataclass
class MediaInput:
    """One piece of user media as the view received it: a URL/data URI or an uploaded file."""

    field: str
    url: str | None = None
    stream: BinaryIO | None = None
    filename: str = ""
    declared_type: str | None = None

    @property
    def expected_kind(self) -> str:
        """Omni materials are typed by their field name (video_file[_N] or image_file[_N])."""
        return "video" if self.field.startswith("video_file") else "image"


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


@dataclass(frozen=True)
class SubmitSettings:
    secret_key: str
    max_upload_bytes: int
    fetch_timeout: float
    allow_loopback_media: bool = False
    clock: Callable[[], float] = time.time
    choose: Callable[[Sequence[Token]], Token] = random.choice


@dataclass(frozen=True)
class SubmittedTask:
    task_id: str
    created: int
    model: str
    status: str = "pending"


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed every offline check, with the token and model it will use."""

    token: Token
    model: VideoModel
    mode: str
    ratio: str
    duration_s: int
    resolution: str


def check_request(req: VideoRequest, tokens: Sequence[Token], choose: Callable) -> CheckedRequest:
    """Every check that needs no network: model, region, mode, numbers, media counts, prompt references."""
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
    token = choose(usable)
    model = VIDEO_MODELS[req.model or DEFAULT_VIDEO_MODEL[token.region.code]]
    limits = model.limits(req.mode)
    ratio = req.ratio or ("16:9" if req.mode == MULTI_FRAME else "1:1")
    if ratio not in VIDEO_RATIOS:
        raise errors.InvalidRequest(f"ratio must be one of {', '.join(VIDEO_RATIOS)}", param="ratio")
    resolution = req.resolution or model.resolutions[0]
    if resolution not in model.resolutions:
        raise errors.InvalidRequest(f"{model.name} supports resolution {', '.join(model.resolutions)}",
                                    param="resolution")
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
    return CheckedRequest(token, model, req.mode, ratio, duration_s, resolution)


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


def load_media(item: MediaInput, settings: SubmitSettings, kind: str) -> Media:
    """Fetch, decode or read one input, checked to be of the expected kind."""
    if item.stream is not None:
        loaded = media.from_stream(item.stream, filename=item.filename, declared_type=item.declared_type,
                                   field=item.field, max_bytes=settings.max_upload_bytes)
    elif item.url and item.url.startswith("data:"):
        loaded = media.from_data_uri(item.url, field=item.field, max_bytes=settings.max_upload_bytes)
    elif item.url:
        loaded = media.fetch_url(item.url, field=item.field, max_bytes=settings.max_upload_bytes,
                                 timeout=settings.fetch_timeout, allow_loopback=settings.allow_loopback_media)
    else:
        raise errors.InvalidRequest(f"{item.field} is empty", param=item.field)
    media.expect_kind(loaded, kind)
    return loaded


def _upload_image(client: JimengClient, token: Token, loaded: Media) -> UploadedImage:
    image = uploads.upload_image(client, token, loaded)
    if token.region.content_check:
        uploads.check_image_content(client, token, image.uri, field=loaded.field)
    return image


def build_draft(req: VideoRequest, checked: CheckedRequest, client: JimengClient,
                settings: SubmitSettings) -> VideoDraft:
    """Fetch every input first (so a bad URL fails before any upload), then upload."""
    token = checked.token
    common = dict(model=checked.model, mode=checked.mode, prompt=req.prompt, ratio=checked.ratio,
                  duration_s=checked.duration_s, resolution=checked.resolution, aid=token.region.aid)
    if checked.mode == MULTI_FRAME:
        loaded = [load_media(f.media, settings, "image") for f in req.frames]
        frames = tuple(Frame(image=_upload_image(client, token, m), prompt=f.prompt, duration_ms=f.duration_ms)
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
                materials.append(Material(name=item.field, image=_upload_image(client, token, m),
                                          alias=item.filename))
        return VideoDraft(materials=tuple(materials), **common)
    loaded = [load_media(i, settings, "image") for i in req.images]
    return VideoDraft(images=tuple(_upload_image(client, token, m) for m in loaded), **common)


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


def submit_video(req: VideoRequest, tokens: Sequence[Token], client: JimengClient,
                 settings: SubmitSettings) -> SubmittedTask:
    checked = check_request(req, tokens, settings.choose)
    draft = build_draft(req, checked, client, settings)
    submit_id = str(uuid.uuid4())
    body = payloads.build_video_generate_body(draft, submit_id=submit_id)
    submitted_at = int(settings.clock())
    fp = checked.token.fingerprint(fingerprint_key(settings.secret_key))
    try:
        data = client.generate(checked.token, body, kind="video")
    except (errors.UpstreamTimeout, errors.UpstreamUnavailable, errors.UpstreamError) as exc:
        if "upstream_code" in exc.extra:
            raise  # Jimeng answered with a refusal: nothing was created
        # The submit may have reached Jimeng. Never resend it; hand out an id that finds it by submit_id.
        maybe = TaskId(kind="video", region=checked.token.region.code, upstream_id=submit_id,
                       submitted_at=submitted_at, token_fp=fp, id_type="submit")
        exc.extra["task_id"] = maybe.encode(settings.secret_key)
        exc.message += ("; the task may still have been accepted: poll task_id before submitting again")
        raise
    # Jimeng accepted (and charged) the task: from here nothing may fail without a task id.
    record = data.get("aigc_data") if isinstance(data.get("aigc_data"), dict) else {}
    history_id = str(record.get("history_record_id") or "")
    eta = _seconds(record.get("forecast_queue_cost")) + _seconds(record.get("forecast_generate_cost"))
    task = TaskId(kind="video", region=checked.token.region.code, upstream_id=history_id,
                  submitted_at=submitted_at, token_fp=fp, eta_seconds=eta)
    try:
        task_id = task.encode(settings.secret_key)
    except (ValueError, UnicodeEncodeError):
        # No usable history id: the submit_id (ours, known to be well formed) finds it too.
        task_id = replace(task, upstream_id=submit_id, id_type="submit").encode(settings.secret_key)
    metrics.submitted("video", checked.model.name, checked.mode)
    log.info("video submitted", extra={"model": checked.model.name, "mode": checked.mode,
                                       "region": checked.token.region.code})
    return SubmittedTask(task_id=task_id, created=submitted_at, model=checked.model.name)


def _seconds(value) -> int:
    try:
        return max(int(float(value)), 0)
    except (TypeError, ValueError, OverflowError):
        return 0
