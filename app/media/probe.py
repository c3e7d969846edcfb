"""What a media file is, read from its first bytes: type by magic number, image size, video length.

Tiny header parsers only (no decoding): enough to pick `kind`, refuse what Jimeng cannot take, and
check Seedance's 15 s limit before spending an upload. Every reader takes a seekable binary file
and leaves its position undefined; callers seek back themselves.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

SNIFF_BYTES = 64


@dataclass(frozen=True)
class Sniffed:
    """A recognised format. `supported` is False for formats we name only to refuse them clearly."""

    kind: str              # "image" | "video" | "audio"
    content_type: str
    label: str             # for people: "PNG", "MP4", ...
    supported: bool = True


PNG = Sniffed("image", "image/png", "PNG")
JPEG = Sniffed("image", "image/jpeg", "JPEG")
WEBP = Sniffed("image", "image/webp", "WebP")
MP4 = Sniffed("video", "video/mp4", "MP4")
MOV = Sniffed("video", "video/quicktime", "MOV")
# Recognised but refused: Jimeng's web uploader offers JPEG/PNG/WebP for images and MP4/MOV for videos;
# neither reference client sends anything else, and we cannot read a WebM's length to enforce 15 s.
GIF = Sniffed("image", "image/gif", "GIF", supported=False)
BMP = Sniffed("image", "image/bmp", "BMP", supported=False)
HEIF = Sniffed("image", "image/heic", "HEIC/HEIF", supported=False)
AVIF = Sniffed("image", "image/avif", "AVIF", supported=False)
WEBM = Sniffed("video", "video/webm", "WebM/Matroska", supported=False)
M4A = Sniffed("audio", "audio/mp4", "MP4 audio", supported=False)

SUPPORTED_LABELS = "PNG, JPEG, WebP, MP4 or MOV"

# ISO BMFF major brands that are not videos (HEIF/AVIF stills, MPEG-4 audio, JPEG 2000, raw photos).
_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"jp2 ",
                 b"jpx ", b"jpm ", b"crx "}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def sniff(head: bytes) -> Sniffed | None:
    """The format the leading bytes announce, or None when they match nothing we know."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return AVIF
        if brand in _IMAGE_BRANDS:
            return HEIF
        if brand in _AUDIO_BRANDS:
            return M4A
        # Cameras and phones use many video brands (isom, mp42, avc1, XAVC, ...): any other is a video.
        return MOV if brand == b"qt  " else MP4
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return MOV  # old QuickTime files start without an ftyp box
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"BM") and len(head) >= 26 and head[6:10] == b"\0\0\0\0":
        return BMP
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return WEBM
    return None


# -- images -------------------------------------------------------------------------------------

def image_size(file: BinaryIO, content_type: str) -> tuple[int, int]:
    """(width, height) from the header, or (0, 0) when the header is damaged or unusual."""
    try:
        file.seek(0)
        if content_type == "image/png":
            return _png_size(file.read(24))
        if content_type == "image/webp":
            return _webp_size(file.read(30))
        if content_type == "image/jpeg":
            return _jpeg_size(file)
    except (struct.error, ValueError, IndexError, OSError):
        pass
    return 0, 0


def _png_size(head: bytes) -> tuple[int, int]:
    # Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), big-endian.
    if head[12:16] != b"IHDR":
        return 0, 0
    return struct.unpack(">II", head[16:24])


def _webp_size(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":     # lossy: key frame start code
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:                   # lossless: 14-bit (size - 1) fields
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":                                          # extended: 24-bit canvas (size - 1)
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return 0, 0


# Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_SCAN_LIMIT = 4 * 1024 * 1024   # EXIF thumbnails and ICC profiles come first; stop looking at some point
# Real files have a few dozen segments before the frame header; a crafted one may have a million.
_JPEG_MAX_SEGMENTS = 512


def _jpeg_size(file: BinaryIO) -> tuple[int, int]:
    file.seek(2)
    for _ in range(_JPEG_MAX_SEGMENTS):
        if file.tell() >= _JPEG_SCAN_LIMIT:
            break
        byte = file.read(1)
        if byte != b"\xff":
            return 0, 0
        marker = file.read(1)
        while marker == b"\xff":              # fill bytes
            marker = file.read(1)
        if not marker:
            return 0, 0
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD8:   # markers without a length
            continue
        if code in (0xD9, 0xDA):                 # end of image / start of scan: no frame header found
            return 0, 0
        (length,) = struct.unpack(">H", file.read(2))
        if length < 2:                           # a segment length counts its own two bytes
            return 0, 0
        if code in _JPEG_SOF:
            segment = file.read(5)                # precision (1), height (2), width (2)
            height, width = struct.unpack(">HH", segment[1:5])
            return width, height
        file.seek(length - 2, 1)
    return 0, 0


# -- videos -------------------------------------------------------------------------------------

class _Budget:
    """How many box headers one probe may read: a file of a million tiny boxes costs no more."""

    def __init__(self, boxes: int) -> None:
        self.left = boxes

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _Unreadable()


class _Unreadable(Exception):
    pass


MAX_BOXES = 4096          # box headers read per file (a real MP4 has tens, fragmented ones hundreds)
MAX_TRUN_BYTES = 4 * 1024 * 1024   # sample tables read per file when summing fragments


def video_duration(file: BinaryIO, size: int) -> float | None:
    """Seconds, or None when the length cannot be read (the caller refuses such a file).

    From the movie header (`moov/mvhd`); for a fragmented file whose header says 0, from
    `mvex/mehd`, else from the fragments themselves (the latest `tfdt` + `trun` end, in the
    track's `mdhd` timescale). Every walk is bounded by MAX_BOXES headers.
    """
    budget = _Budget(MAX_BOXES)
    try:
        moov = _find_box(file, b"moov", 0, size, budget)
        mvhd = _find_box(file, b"mvhd", *moov, budget) if moov else None
        if mvhd is None:
            return None
        timescale, duration = _header_time(file, mvhd)
        if timescale and duration:
            return duration / timescale
        mvex = _find_box(file, b"mvex", *moov, budget)
        if mvex is None:
            return None
        mehd = _find_box(file, b"mehd", *mvex, budget)
        if mehd is not None and timescale:
            file.seek(mehd[0])
            body = file.read(12)
            value = struct.unpack(">Q", body[4:12])[0] if body[0] == 1 else struct.unpack(">I", body[4:8])[0]
            if value:
                return value / timescale
        return _fragments_duration(file, size, moov, budget)
    except (_Unreadable, struct.error, ValueError, IndexError, OSError, ZeroDivisionError):
        return None


def _header_time(file: BinaryIO, box: tuple[int, int]) -> tuple[int, int]:
    """(timescale, duration) of an `mvhd` or `mdhd` payload; duration 0 when unknown."""
    file.seek(box[0])
    body = file.read(min(box[1] - box[0], 32))
    if body[0] == 1:    # 64-bit creation/modification times and duration
        timescale, duration = struct.unpack(">IQ", body[20:32])
        unknown = 0xFFFFFFFFFFFFFFFF
    else:
        timescale, duration = struct.unpack(">II", body[12:20])
        unknown = 0xFFFFFFFF
    return timescale, (0 if duration == unknown else duration)


def _track_timescales(file: BinaryIO, moov: tuple[int, int], budget: _Budget) -> dict[int, int]:
    scales = {}
    for trak in _boxes(file, b"trak", *moov, budget):
        tkhd = _find_box(file, b"tkhd", *trak, budget)
        mdia = _find_box(file, b"mdia", *trak, budget)
        mdhd = _find_box(file, b"mdhd", *mdia, budget) if mdia else None
        if tkhd is None or mdhd is None:
            continue
        file.seek(tkhd[0])
        head = file.read(24)
        track_id = struct.unpack(">I", head[20:24] if head[0] == 1 else head[12:16])[0]
        scales[track_id] = _header_time(file, mdhd)[0]
    return scales


def _fragments_duration(file: BinaryIO, size: int, moov: tuple[int, int], budget: _Budget) -> float | None:
    """The end of the latest fragment, in seconds: max over `moof/traf` of tfdt + the trun durations."""
    scales = _track_timescales(file, moov, budget)
    trun_left = MAX_TRUN_BYTES
    longest = 0.0
    for moof in _boxes(file, b"moof", 0, size, budget):
        for traf in _boxes(file, b"traf", *moof, budget):
            tfhd = _find_box(file, b"tfhd", *traf, budget)
            if tfhd is None:
                continue
            file.seek(tfhd[0])
            flags, track_id = struct.unpack(">II", file.read(8))
            flags &= 0xFFFFFF
            offset = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            default_duration = 0
            if flags & 0x08:
                file.seek(tfhd[0] + offset)
                default_duration = struct.unpack(">I", file.read(4))[0]
            start = 0
            tfdt = _find_box(file, b"tfdt", *traf, budget)
            if tfdt is not None:
                file.seek(tfdt[0])
                body = file.read(12)
                start = struct.unpack(">Q", body[4:12])[0] if body[0] == 1 else struct.unpack(">I", body[4:8])[0]
            total = 0
            for trun in _boxes(file, b"trun", *traf, budget):
                trun_left -= trun[1] - trun[0]
                if trun_left < 0:
                    raise _Unreadable()
                total += _trun_duration(file, trun, default_duration)
            scale = scales.get(track_id) or 0
            if scale:
                longest = max(longest, (start + total) / scale)
    return longest or None


def _trun_duration(file: BinaryIO, trun: tuple[int, int], default_duration: int) -> int:
    file.seek(trun[0])
    body = file.read(trun[1] - trun[0])
    flags, count = struct.unpack(">II", body[:8])
    flags &= 0xFFFFFF
    pos = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
    if 0x100 not in fields:
        return default_duration * count
    width = 4 * len(fields)
    table = body[pos:pos + width * count]
    if len(table) < width * count:
        raise _Unreadable()
    return sum(entry[0] for entry in struct.iter_unpack(">" + "I" * len(fields), table))


def _boxes(file: BinaryIO, box_type: bytes, start: int, end: int, budget: _Budget):
    """(payload start, payload end) of every `box_type` box between start and end."""
    offset = start
    while offset + 8 <= end:
        budget.spend()
        file.seek(offset)
        header = file.read(16)
        if len(header) < 8:
            return
        box_size, kind = struct.unpack(">I4s", header[:8])
        header_len = 8
        if box_size == 1:                        # 64-bit size follows the type
            (box_size,) = struct.unpack(">Q", header[8:16])
            header_len = 16
        elif box_size == 0:                      # box runs to the end of its container
            box_size = end - offset
        if box_size < header_len:
            return
        if kind == box_type:
            yield offset + header_len, min(offset + box_size, end)
        offset += box_size


def _find_box(file: BinaryIO, box_type: bytes, start: int, end: int, budget: _Budget) -> tuple[int, int] | None:
    """(payload start, payload end) of the first `box_type` box between start and end."""
    return next(_boxes(file, box_type, start, end, budget), None)
