"""OpenAI's video shape as a view over our tasks: pure tables and functions, no Flask, no network.

Requests map into the field names our submit schema already reads (so every mode stays reachable);
task states map out into the `Video` object of the official SDK (`openai/types/video.py`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from app import errors
from app.jimeng.models import VIDEO_RATIOS, VideoModel

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
