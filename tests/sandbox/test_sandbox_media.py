"""The header parsing that lets ImageX/VOD commits report real sizes and durations."""
import struct


from sandbox.media import probe_image, probe_mp4

from tests.sandbox.wire import ASSETS


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_png_size_and_format():
    info = probe_image((ASSETS / "sample.png").read_bytes())
    assert (info.width, info.height, info.format) == (64, 48, "png")


def test_lossless_webp_size():
    # RIFF header, VP8L chunk: signature 0x2f, then 14-bit width-1 and height-1.
    bits = (50 - 1) | ((30 - 1) << 14)
    data = b"RIFF" + b"\0" * 4 + b"WEBP" + b"VP8L" + b"\0" * 4 + b"\x2f" + bits.to_bytes(4, "little")
    info = probe_image(data)
    assert (info.width, info.height, info.format) == (50, 30, "webp")


def test_unknown_bytes_are_not_an_image():
    assert probe_image(b"GIF? no, just text") is None


def test_mp4_duration_and_size():
    info = probe_mp4((ASSETS / "sample.mp4").read_bytes())
    assert (info.duration_s, info.width, info.height) == (2.0, 160, 96)


def test_mp4_with_a_64_bit_movie_header():
    mvhd = box(b"mvhd", b"\x01\0\0\0" + b"\0" * 16 + struct.pack(">IQ", 1000, 20_500))
    data = box(b"ftyp", b"isom\0\0\0\0") + box(b"moov", mvhd)
    assert probe_mp4(data).duration_s == 20.5


def test_bytes_without_a_movie_header_are_not_an_mp4():
    assert probe_mp4(box(b"ftyp", b"isom\0\0\0\0") + box(b"mdat", b"\0" * 10)) is None
