"""Just enough parsing of uploaded bytes to answer like ImageX and VOD: image size and format,
MP4 duration and size. No dependency: headers only, never pixel data."""
from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    format: str      # png, jpeg, webp, gif


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    width: int
    height: int


def probe_image(data: bytes) -> ImageInfo | None:
    """Size and format of a PNG, JPEG, WebP or GIF; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return ImageInfo(width, height, "png")
    if data.startswith(b"\xff\xd8"):
        return _probe_jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _probe_webp(data)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return ImageInfo(width, height, "gif")
    return None


def _probe_jpeg(data: bytes) -> ImageInfo | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:           # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) are not frames.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return ImageInfo(width, height, "jpeg")
        pos += 2 + length
    return None


def _probe_webp(data: bytes) -> ImageInfo | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return ImageInfo(width & 0x3FFF, height & 0x3FFF, "webp")
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, "webp")
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo(width, height, "webp")
    return None


def probe_mp4(data: bytes) -> VideoInfo | None:
    """Duration from `moov/mvhd`, size from the first `trak/tkhd` with a non-zero size; None when
    the bytes are not an MP4 with a movie header."""
    top = dict(_boxes(data, 0, len(data)))
    if "ftyp" not in top or "moov" not in top:
        return None
    start, end = top["moov"]
    duration_s, width, height = None, 0, 0
    for kind, (b_start, b_end) in _boxes(data, start, end):
        if kind == "mvhd":
            duration_s = _mvhd_seconds(data[b_start:b_end])
        elif kind == "trak" and not width:
            tkhd = dict(_boxes(data, b_start, b_end)).get("tkhd")
            if tkhd:
                width, height = _tkhd_size(data[tkhd[0]:tkhd[1]])
    if duration_s is None:
        return None
    return VideoInfo(duration_s, width, height)


def _boxes(data: bytes, start: int, end: int):
    """(type, (payload start, payload end)) for each ISO-BMFF box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind.decode("latin-1"), (pos + header, pos + size)
        pos += size


def _mvhd_seconds(box: bytes) -> float | None:
    if box[:1] == b"\x01" and len(box) >= 32:
        timescale, duration = struct.unpack(">IQ", box[20:32])
    elif len(box) >= 20:
        timescale, duration = struct.unpack(">II", box[12:20])
    else:
        return None
    return duration / timescale if timescale else None


def _tkhd_size(box: bytes) -> tuple[int, int]:
    if len(box) < 8:
        return 0, 0
    # width and height are the box's last 8 bytes, as 16.16 fixed point.
    width, height = struct.unpack(">II", box[-8:])
    return width >> 16, height >> 16
