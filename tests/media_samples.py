"""Tiny valid media files built in code: enough for type sniffing, sizes and durations."""
from __future__ import annotations

import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG of black pixels."""
    rows = b"".join(b"\0" + b"\0\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b""))


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def make_mp4(seconds: float = 5.0, *, timescale: int = 1000, version: int = 0, mdat_first: bool = False) -> bytes:
    """`ftyp` + `moov/mvhd` (+ an `mdat`): all the probe needs."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")
    duration = round(seconds * timescale)
    if version == 1:
        times = struct.pack(">BxxxQQIQ", 1, 0, 0, timescale, duration)
    else:
        times = struct.pack(">BxxxIIII", 0, 0, 0, timescale, duration)
    moov = _box(b"moov", _box(b"mvhd", times + b"\0" * 80))
    mdat = _box(b"mdat", b"\0" * 64)
    return ftyp + (mdat + moov if mdat_first else moov + mdat)
