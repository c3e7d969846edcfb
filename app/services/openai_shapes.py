"""OpenAI's shapes over our tasks, in one place: pure functions over small tables, no Flask, no network.

Videos: OpenAI's create body maps into the field names our submit schema reads (so every mode stays
reachable); a task state maps out into the `Video` object of the official SDK (`openai/types/video.py`).
Images: OpenAI's `size` and `quality` map onto Jimeng's ratio and resolution. A value the model
cannot honour is a 400 naming what it can, never a silent substitute. Their request schemas are in
app/schemas/openai.py (videos) and app/schemas/images.py (images: ours and OpenAI's fields in one).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from app import errors
from app.jimeng.models import DEFAULT_VIDEO_MODEL, IMAGE_RATIOS, VIDEO_MODELS, VIDEO_RATIOS, ImageModel, VideoModel
from app.schemas.openai import QUALITIES
from app.services.submitting import MediaInput, SubmittedTask
from app.services.tasks import TaskState

# -- videos ------------------------------------------------------------------------------------------

# Our task status -> OpenAI's `Video.status` (Literal["queued", "in_progress", "completed", "failed"]).
STATUS = {"pending": "queued", "processing": "in_progress", "completed": "completed", "failed": "failed"}

# Pixels of the short side per resolution; the long side follows from the ratio.
SHORT_SIDE = {"480p": 480, "720p": 720, "1080p": 1080}
_SIZE = re.compile(r"^\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*$")


def size_of(ratio: str, resolution: str) -> str:
    """The `WIDTHxHEIGHT` a ratio and resolution stand for, e.g. ("16:9", "720p") -> "1280x720"."""
    a, b = (int(x) for x in ratio.split(":"))
    short = SHORT_SIDE[resolution]
    long = round(short * max(a, b) / min(a, b))
    return f"{long}x{short}" if a >= b else f"{short}x{long}"


def size_table(resolutions: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """Every size a model offers -> (ratio, resolution): the allowed values a 400 names."""
    return {size_of(r, res): (r, res) for res in resolutions if res in SHORT_SIDE for r in VIDEO_RATIOS}


def ratio_and_resolution(size: str, model: VideoModel) -> tuple[str, str]:
    """Map `size` onto the model's ratio and resolution; a size it lacks is a 400 naming the allowed ones."""
    table = size_table(model.resolutions)
    match = _SIZE.match(size or "")
    key = f"{match.group(1)}x{match.group(2)}" if match else size
    if key not in table:
        raise errors.InvalidRequest(f"{model.name} offers size {', '.join(table)}; got {size!r}", param="size")
    return table[key]


def check_seconds(seconds, model: VideoModel) -> int:
    text = str(seconds).strip()
    if not text.isdigit() or int(text) not in model.durations:
        allowed = ", ".join(str(d) for d in model.durations)
        raise errors.InvalidRequest(f"{model.name} offers seconds {allowed}; got {seconds!r}", param="seconds")
    return int(text)


def resolve_alias(name: str | None, aliases: Mapping[str, str], region: str,
                  defaults: Mapping[str, str]) -> str | None:
    """An aliased model name -> ours; the target "default" means the region's default model of the
    route's kind (`defaults`: DEFAULT_VIDEO_MODEL on video routes, DEFAULT_IMAGE_MODEL on image routes)."""
    if name is None or name not in aliases:
        return name
    target = aliases[name]
    return defaults[region] if target == "default" else target


def submit_fields(body: Mapping, model: VideoModel, aliases_resolved_model: str | None) -> dict:
    """OpenAI's create body -> our submit fields. Our own fields (ratio, function_mode, files...) pass
    through; `seconds` -> duration, `size` -> ratio + resolution, `input_reference` -> the first image.
    An explicit `ratio`/`resolution`/`duration` wins over `size`/`seconds` only if they agree."""
    fields = {k: v for k, v in body.items() if k not in ("seconds", "size", "input_reference", "model")}
    if aliases_resolved_model is not None:
        fields["model"] = aliases_resolved_model
    if body.get("seconds") not in (None, ""):
        duration = check_seconds(body["seconds"], model)
        if fields.get("duration") not in (None, "") and str(fields["duration"]).strip() != str(duration):
            raise errors.InvalidRequest("seconds and duration disagree; send one", param="seconds")
        fields["duration"] = duration
    if body.get("size") not in (None, ""):
        ratio, resolution = ratio_and_resolution(str(body["size"]), model)
        for name, value in (("ratio", ratio), ("resolution", resolution)):
            if fields.get(name) not in (None, "") and fields[name] != value:
                raise errors.InvalidRequest(f"size {body['size']} means {name} {value}, but {name} "
                                            f"{fields[name]!r} was sent; send one", param="size")
            fields[name] = value
    reference = body.get("input_reference")
    if reference not in (None, ""):
        url = reference_url(reference)
        if fields.get("image_file") not in (None, ""):
            raise errors.InvalidRequest("send input_reference or image_file, not both", param="input_reference")
        fields["image_file"] = url
    return fields


def reference_url(reference) -> str:
    """`input_reference` as JSON: a URL/data URI string, or {"image_url": ...}; file ids are OpenAI's own."""
    if isinstance(reference, str):
        return reference
    if isinstance(reference, Mapping):
        if isinstance(reference.get("image_url"), str) and reference["image_url"]:
            return reference["image_url"]
        if reference.get("file_id"):
            raise errors.InvalidRequest("input_reference.file_id refers to OpenAI's file store; send the file "
                                        "(multipart) or image_url instead", param="input_reference")
    raise errors.InvalidRequest("input_reference must be a file, a URL or {\"image_url\": ...}",
                                param="input_reference")


def video_object(task_id: str, status: str, *, progress: int | None, created: int | None, model: str | None,
                 seconds: int | None, size: str | None, completed_at: int | None = None,
                 error_code: str | None = None, error: str | None = None, prompt: str | None = None) -> dict:
    """The SDK's `Video`: every required field present; unknown facts are empty, never invented."""
    state = STATUS.get(status, "failed")
    body = {
        "id": task_id, "object": "video", "status": state,
        "progress": 100 if state == "completed" else int(progress or 0),
        "created_at": int(created or 0),
        "completed_at": int(completed_at) if state in ("completed", "failed") and completed_at else None,
        "expires_at": None,
        "model": model or "",
        "seconds": str(seconds) if seconds else "",
        "size": size or "",
        "error": {"code": error_code or "generation_failed", "message": error or "the video failed"}
        if state == "failed" else None,
        "remixed_from_video_id": None,
    }
    if prompt is not None:
        body["prompt"] = prompt
    return body


def video_model(name: str | None, aliases: Mapping[str, str], region: str) -> tuple[VideoModel, str | None]:
    """The model a create names (an alias resolved; none: the region's default) and the name to
    submit; UnsupportedModel for a name we do not know."""
    name = resolve_alias(name or None, aliases, region, DEFAULT_VIDEO_MODEL)
    model = VIDEO_MODELS.get(name or DEFAULT_VIDEO_MODEL[region])
    if model is None:
        raise errors.UnsupportedModel(f"unknown model {name!r}; models: {', '.join(VIDEO_MODELS)}", param="model")
    return model, name


def reference_files(files: list[MediaInput], body: Mapping) -> list[MediaInput]:
    """The uploaded `input_reference` is our first frame (`image_file`): not both."""
    for f in files:
        if f.field == "input_reference":
            if body.get("image_file") or any(g.field == "image_file" for g in files):
                raise errors.InvalidRequest("send input_reference or image_file, not both", param="input_reference")
            f.field = "image_file"
    return files


def video_from_state(state: TaskState, fallback: SubmittedTask | None = None, prompt: str | None = None) -> dict:
    """Our task state as OpenAI's Video; what the record does not say yet comes from the submit."""
    record = state.record
    model = state.model or (fallback.model if fallback else None)
    seconds = round(record.requested_ms / 1000) if record and record.requested_ms else (
        fallback.duration if fallback else None)
    ratio = (record.ratio if record else None) or (fallback.ratio if fallback else None)
    resolution = (record.resolution if record else None) or (fallback.resolution if fallback else None)
    if ratio and not resolution and model in VIDEO_MODELS:
        resolution = VIDEO_MODELS[model].resolutions[0]   # models that send none make their first
    try:
        size = size_of(ratio, resolution) if ratio and resolution else None
    except (ValueError, KeyError):
        size = None
    completed_at = int(record.finish_time) if record and record.finish_time else None
    body = video_object(state.task_id, state.status, progress=state.progress, created=state.created, model=model,
                        seconds=seconds, size=size, completed_at=completed_at, error_code=state.error_code,
                        error=state.error, prompt=prompt if prompt is not None else (record.prompt if record else None))
    if state.webhook is not None:
        body["webhook"] = state.webhook
    return body


def video_answer(state: TaskState) -> dict:
    """OpenAI's Video for a task, as retrieve answers it (also the `data` of its webhook events)."""
    return video_from_state(state)


# -- images ------------------------------------------------------------------------------------------
# `size` is either one of the model's own sizes (e.g. `2048x2048`: 1:1 at 2k; `1664x936`: 16:9 at 1k),
# which fixes ratio and resolution, or one of OpenAI's names below, which fixes the ratio only (the
# resolution then comes from `resolution`, `quality`, or the model's default). `auto` leaves both open.
# `quality`: `low` = the model's smallest resolution; `standard`, `medium`, `auto` = its default;
# `high`, `hd`, `xhigh`, `max` = its largest. An explicit `resolution` wins over `quality`.

# OpenAI's sizes (dall-e-3, gpt-image-1) -> the Jimeng ratio of the same shape.
OPENAI_SIZES = {"1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3", "1792x1024": "16:9",
                "1024x1792": "9:16"}
DEFAULT_RATIO = "1:1"


def model_sizes(model: ImageModel) -> dict[str, tuple[str, str]]:
    """`WxH` -> (ratio, resolution) for every size the model makes itself."""
    sizes = {}
    for resolution in model.resolutions:
        for ratio in IMAGE_RATIOS:
            width, height = model.size(ratio, resolution)
            sizes.setdefault(f"{width}x{height}", (ratio, resolution))
    return sizes


def allowed_sizes(model: ImageModel) -> list[str]:
    return ["auto", *OPENAI_SIZES, *model_sizes(model)]


def _by_quality(model: ImageModel, quality: str) -> str:
    if quality == "low":
        return model.resolutions[0]
    if quality in ("high", "hd", "xhigh", "max"):
        return model.resolutions[-1]
    return model.default_resolution


def resolve_size(model: ImageModel, *, size: str | None, quality: str | None, ratio: str | None,
                 resolution: str | None) -> tuple[str, str]:
    """(ratio, resolution) for the request; InvalidRequest naming the allowed values otherwise."""
    if ratio is not None and ratio not in IMAGE_RATIOS:
        raise errors.InvalidRequest(f"ratio must be one of {', '.join(IMAGE_RATIOS)}", param="ratio")
    if resolution is not None and resolution not in model.resolutions:
        raise errors.InvalidRequest(f"{model.name} offers resolution {', '.join(model.resolutions)}, "
                                    f"not {resolution!r}", param="resolution")
    if quality is not None and quality not in QUALITIES:
        raise errors.InvalidRequest(f"quality must be one of {', '.join(QUALITIES)}", param="quality")
    size_ratio = size_resolution = None
    if size is not None and size != "auto":
        text = size.strip().lower()
        if text in OPENAI_SIZES:
            size_ratio = OPENAI_SIZES[text]
        elif text in model_sizes(model):
            size_ratio, size_resolution = model_sizes(model)[text]
        else:
            raise errors.InvalidRequest(f"{model.name} has no size {size!r}; sizes: "
                                        f"{', '.join(allowed_sizes(model))}", param="size")
    if size_ratio and ratio and size_ratio != ratio:
        raise errors.InvalidRequest(f"size {size} is {size_ratio}, but ratio says {ratio}", param="size")
    if size_resolution and resolution and size_resolution != resolution:
        raise errors.InvalidRequest(f"size {size} is {size_resolution}, but resolution says {resolution}",
                                    param="size")
    chosen = resolution or size_resolution or (_by_quality(model, quality) if quality else model.default_resolution)
    return ratio or size_ratio or DEFAULT_RATIO, chosen
