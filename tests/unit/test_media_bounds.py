"""Issue 8, hole 5: crafted media costs bounded CPU, and a video's length is read or refused.
Each test failed before its fix."""
from __future__ import annotations

import io
import struct

import pytest

from app.media import probe as media_probe
from app.errors import InvalidRequest
from app.media.intake import from_stream
from tests.media_samples import _box, make_mp4


class CountingFile(io.BytesIO):
    """Counts reads: the work a probe does, without timing anything."""

    reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)


FTYP = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41")


def fragmented_mp4(seconds: float, *, mehd: bool, timescale: int = 1000, fragments: int = 4) -> bytes:
    """`moov` with an empty `mvhd` duration and `mvex`, then `moof`+`mdat` fragments (tfdt + trun)."""
    mvhd = _box(b"mvhd", struct.pack(">BxxxIIII", 0, 0, 0, timescale, 0) + b"\0" * 80)
    tkhd = _box(b"tkhd", struct.pack(">BxxxIII", 0, 0, 0, 1) + b"\0" * 68)
    mdhd = _box(b"mdhd", struct.pack(">BxxxIIII", 0, 0, 0, timescale, 0) + b"\0" * 4)
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd))
    mvex = _box(b"mvex", (_box(b"mehd", struct.pack(">BxxxI", 0, round(seconds * timescale))) if mehd else b"")
                + _box(b"trex", struct.pack(">BxxxIIIII", 0, 1, 1, 0, 0, 0)))
    moov = _box(b"moov", mvhd + trak + mvex)
    per = round(seconds * timescale / max(fragments, 1))
    frags = b""
    for i in range(fragments):
        tfhd = _box(b"tfhd", struct.pack(">I", 0x020000) + struct.pack(">I", 1))
        tfdt = _box(b"tfdt", struct.pack(">BxxxI", 0, i * per))
        samples = 10
        trun = _box(b"trun", struct.pack(">II", 0x000100, samples) + struct.pack(">I", per // samples) * samples)
        frags += _box(b"moof", _box(b"traf", tfhd + tfdt + trun)) + _box(b"mdat", b"\0" * 16)
    return FTYP + moov + frags


@pytest.mark.parametrize("mehd", [True, False])
def test_a_fragmented_mp4_has_its_real_length(mehd):
    data = fragmented_mp4(20.0, mehd=mehd)
    assert media_probe.video_duration(io.BytesIO(data), len(data)) == pytest.approx(20.0)


def test_a_fragmented_20_s_video_cannot_pass_the_15_s_omni_limit_as_0_s():
    data = fragmented_mp4(20.0, mehd=False)
    media = from_stream(io.BytesIO(data), filename="v.mp4", declared_type="video/mp4", field="video_file",
                        max_bytes=10 ** 7)
    assert media.duration_s == pytest.approx(20.0)


@pytest.mark.parametrize("data", [FTYP + _box(b"mdat", b"\0" * 64),                       # no moov
                                  FTYP + _box(b"moov", _box(b"free", b"")),               # no mvhd
                                  fragmented_mp4(10.0, mehd=False, fragments=0)])         # no fragments
def test_a_video_whose_length_cannot_be_read_is_refused(data):
    with pytest.raises(InvalidRequest, match="length") as exc:
        from_stream(io.BytesIO(data), filename="v.mp4", declared_type="video/mp4", field="video_file",
                    max_bytes=10 ** 7)
    assert exc.value.param == "video_file"


def test_an_mp4_made_of_tiny_boxes_is_not_walked_box_by_box():
    data = FTYP + _box(b"free", b"") * 200_000 + make_mp4(5.0)[len(FTYP):]
    file = CountingFile(data)
    assert media_probe.video_duration(file, len(data)) is None
    assert file.reads < 20_000


def test_a_jpeg_of_tiny_segments_is_not_walked_segment_by_segment():
    segment = b"\xff\xe1\x00\x02"                      # an APP1 segment with no payload
    data = b"\xff\xd8" + segment * 500_000 + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x20" + b"\0" * 12
    file = CountingFile(data)
    assert media_probe.image_size(file, "image/jpeg") == (0, 0)
    assert file.reads < 20_000


def test_ordinary_files_are_still_read():
    data = make_mp4(7.5)
    assert media_probe.video_duration(io.BytesIO(data), len(data)) == pytest.approx(7.5)
    jpeg = b"\xff\xd8" + b"\xff\xe0\x00\x10" + b"\0" * 14 + b"\xff\xc0\x00\x11\x08\x00\x10\x00\x20" + b"\0" * 12
    assert media_probe.image_size(io.BytesIO(jpeg), "image/jpeg") == (32, 16)
