"""Values that cross the jimeng boundary: uploaded media and the inputs of a video draft."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from app.jimeng.models import FPS, ImageModel, VideoModel


@dataclass
class Media:
    """User media after fetching/decoding, before upload. `file` is positioned at 0 and holds `size` bytes."""

    kind: str                 # "image" | "video"
    content_type: str         # sniffed from the bytes, e.g. "image/png"
    filename: str             # original name (uploads) or a name derived from the URL; "" if none
    size: int
    crc32: str                # 8 lowercase hex digits (zlib.crc32), as Jimeng's upload wants
    file: BinaryIO
    field: str = ""           # the request field it came from, e.g. "image_file_1"
    width: int = 0            # images, when known before upload
    height: int = 0
    duration_s: float = 0.0   # videos, when known before upload


@dataclass(frozen=True)
class UploadedImage:
    uri: str                  # ImageX store URI, e.g. "tos-cn-i-tb4s082cfz/<hex>"
    width: int = 0
    height: int = 0
    format: str = ""


@dataclass(frozen=True)
class UploadedVideo:
    vid: str                  # VOD Vid
    width: int = 0
    height: int = 0
    duration_ms: int = 0


@dataclass(frozen=True)
class Frame:
    """One multi-frame keyframe."""

    image: UploadedImage
    prompt: str
    duration_ms: int


@dataclass(frozen=True)
class Material:
    """One omni-reference material, in material order. `name` is its field name
    (image_file_1, video_file, ...); `alias` the original file name, if any."""

    name: str
    image: UploadedImage | None = None
    video: UploadedVideo | None = None
    alias: str = ""


@dataclass(frozen=True)
class VideoDraft:
    """Everything a video payload builder needs, already validated and uploaded."""

    model: VideoModel
    mode: str
    prompt: str
    ratio: str
    duration_s: int
    resolution: str = "720p"
    fps: int = FPS
    images: tuple[UploadedImage, ...] = ()        # first_last_frames (0-2) and main_reference (2-4)
    frames: tuple[Frame, ...] = ()                # multi_frame
    materials: tuple[Material, ...] = ()          # omni_reference
    aid: int = 513695
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ImageDraft:
    """Everything the image payload builder needs, already validated (and references uploaded)."""

    model: ImageModel
    region: str
    prompt: str
    ratio: str
    resolution: str
    count: int                                    # gen_count, 1-8
    negative_prompt: str = ""
    sample_strength: float = 0.5
    references: tuple[UploadedImage, ...] = ()    # blend (image to image) when not empty
    aid: int = 513695
