"""Which request field feeds which media slot, per mode (protocol 3.3 and iptag's field names).

Kept apart from the submit flow: this is the part old clients depend on letter by letter.
"""
from __future__ import annotations

from app import errors
from app.jimeng.models import MULTI_FRAME, OMNI_REFERENCE
from app.schemas.videos import IMAGE_FIELDS, VIDEO_FIELDS
from app.services.submitting import WebhookRequest
from app.services.videos import FrameInput, MediaInput, VideoRequest


def video_request(fields: dict, files: list[MediaInput]) -> VideoRequest:
    """A VideoRequest from schema-loaded fields and uploaded files (in upload order)."""
    mode = fields["function_mode"]
    req = VideoRequest(prompt=fields["prompt"], model=fields["model"], mode=mode, ratio=fields["ratio"],
                       resolution=fields["resolution"], duration=fields["duration"], fps=fields["fps"],
                       webhook=WebhookRequest.from_fields(fields))
    if mode == MULTI_FRAME:
        req.frames = _frames(fields["frames"], files)
    elif mode == OMNI_REFERENCE:
        req.materials = _materials(fields, files)
    else:
        # Uploaded files first (any field name), then URL fields, then file_paths (iptag's order).
        urls = [MediaInput(field=name, url=fields[name]) for name in IMAGE_FIELDS[1:] + IMAGE_FIELDS[:1]
                if fields.get(name)]
        paths = [MediaInput(field=f"file_paths[{i}]", url=u) for i, u in enumerate(fields["file_paths"]) if u]
        req.images = [*files, *urls, *paths]
    return req


def _frames(frames: list[dict], files: list[MediaInput]) -> list[FrameInput]:
    by_field = {f.field: f for f in files}
    result = []
    for i, frame in enumerate(frames):
        upload = by_field.get(f"frame_image_{i + 1}")
        if upload is not None:
            media = upload
        elif frame.get("image"):
            media = MediaInput(field=f"frames[{i}].image", url=frame["image"])
        else:
            raise errors.InvalidRequest(f"frame {i + 1} has no image (give frames[{i}].image or upload "
                                        f"frame_image_{i + 1})", param=f"frames[{i}].image")
        ms = frame["duration_ms"] if "duration_ms" in frame else round(frame["duration"] * 1000)
        result.append(FrameInput(media=media, prompt=frame.get("prompt", ""), duration_ms=int(ms)))
    return result


def _materials(fields: dict, files: list[MediaInput]) -> list[MediaInput]:
    """Material order: image files, image URL fields (1..9, then bare), file_paths into free image
    slots, then videos (files first, then URL fields)."""
    for f in files:
        if f.field not in IMAGE_FIELDS + VIDEO_FIELDS:
            raise errors.InvalidRequest(f"omni_reference takes files named image_file[_1..9] or "
                                        f"video_file[_1..3], not {f.field!r}", param=f.field)
    uploaded = {f.field for f in files}
    image_files = [f for f in files if f.expected_kind == "image"]  # names checked just above
    video_files = [f for f in files if f.expected_kind == "video"]
    image_urls = [MediaInput(field=n, url=fields[n]) for n in IMAGE_FIELDS[1:] + IMAGE_FIELDS[:1]
                  if fields.get(n) and n not in uploaded]
    taken = uploaded | {m.field for m in image_urls}
    free = [n for n in IMAGE_FIELDS[1:] if n not in taken]
    paths = [u for u in fields["file_paths"] if u]
    if len(paths) > len(free):
        raise errors.InvalidRequest("too many images for omni_reference", param="file_paths")
    path_inputs = [MediaInput(field=free[i], url=u) for i, u in enumerate(paths)]
    video_urls = [MediaInput(field=n, url=fields[n]) for n in VIDEO_FIELDS[1:] + VIDEO_FIELDS[:1]
                  if fields.get(n) and n not in uploaded]
    return [*image_files, *image_urls, *path_inputs, *video_files, *video_urls]
