"""streamed_json: data URIs leave the JSON as files, whatever the chunking and escaping."""
from __future__ import annotations

import base64
import json
import random

import pytest

from app.api.streamed_json import SkeletonTooLarge, parse

BLOB = random.Random(8).randbytes(3000)
URI = "data:image/png;base64," + base64.b64encode(BLOB).decode()


def chunks(raw: bytes, size: int):
    for i in range(0, len(raw), size):
        yield raw[i:i + size]


def spool(raw: bytes, size: int, *, max_media: int = 10 ** 7, max_skeleton: int = 10 ** 6):
    return parse(chunks(raw, size), max_skeleton=max_skeleton, max_media_bytes=max_media)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 100_000])
def test_data_uris_become_files_and_the_rest_parses_as_usual(size):
    doc = {"prompt": 'a "cat" \\ data:x é', "file_paths": [URI, URI], "n": [1, {"b": "data:"}]}
    data, spooled = spool(json.dumps(doc).encode(), size)

    assert data["prompt"] == doc["prompt"] and data["n"] == doc["n"]
    assert [spooled[k].file.read() for k in data["file_paths"]] == [BLOB, BLOB]
    assert {e.declared_type for e in spooled.values()} == {"image/png"}


@pytest.mark.parametrize("size", [1, 3, 6, 1000])
@pytest.mark.parametrize("escape", [lambda t: t.replace(b"/", b"\\/"), lambda t: t.replace(b"+", b"\\u002b")])
def test_json_escapes_inside_the_base64_are_understood(size, escape):
    data, spooled = spool(escape(json.dumps({"u": URI}).encode()), size)
    entry = spooled[data["u"]]
    assert entry.file.read() == BLOB and not entry.invalid and entry.declared_type == "image/png"


def test_unpadded_urlsafe_and_wrapped_base64_is_accepted():
    text = base64.urlsafe_b64encode(BLOB).decode().rstrip("=")
    wrapped = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    data, spooled = spool(json.dumps({"u": "data:image/png;base64," + wrapped}).encode(), 50)
    assert spooled[data["u"]].file.read() == BLOB


def test_bad_base64_and_oversized_data_are_flagged_not_raised():
    data, spooled = spool(json.dumps({"a": "data:image/png;base64,@@@@", "b": URI}).encode(), 10, max_media=100)
    assert spooled[data["a"]].invalid and spooled[data["b"]].too_large


@pytest.mark.parametrize("raw", [b'{"a": [', b'{"a": "unterminated', b"[" * 100_000, b'{"a": 1}}', b""])
def test_broken_json_is_a_value_error(raw):
    with pytest.raises(ValueError):
        spool(raw, 4)


def test_the_json_around_the_data_uris_is_capped():
    with pytest.raises(SkeletonTooLarge):
        spool(json.dumps({"prompt": "x" * 5000, "u": URI}).encode(), 100, max_skeleton=1000)
    data, _ = spool(json.dumps({"prompt": "x" * 500, "u": URI}).encode(), 100, max_skeleton=1000)
    assert data["prompt"] == "x" * 500


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "video/mp4", "image/webp;x=1"])
@pytest.mark.parametrize("size", [1, 7, 100_000])
def test_escapes_cut_by_the_header_window_are_understood(media_type, size):
    """Every character escaped (6 bytes each): the 256-byte window that looks for `data:` ends
    inside an escape at some offset; the escape must survive whole."""
    blob = b"\xfb\xef\xbe" * 300                       # base64: "++++..."
    text = "data:" + media_type + ";base64," + base64.b64encode(blob).decode()
    raw = json.dumps({"u": text}).encode().replace(b"+", b"\\u002b")
    data, spooled = spool(raw, size)
    entry = spooled[data["u"]]
    assert not entry.invalid and entry.file.read() == blob


@pytest.mark.parametrize("size", [1, 4, 9, 333, 100_000])
def test_long_runs_of_plain_strings_around_escapes_and_data_uris_parse_as_json_does(size):
    """Plain strings pass in one go; an escaped quote, a `data:` that is no data URI's start and a real
    data URI after thousands of plain strings are each still read string by string."""
    plain = {f"k{i}": f"v{i}" for i in range(2000)}
    doc = {**plain, "q": 'say \\"data:image/png;base64,AAAA\\" "x"', "t": "the data: text", "DATA:": "Data:x",
           **{f"m{i}": i for i in range(500)}, "img": URI, "after": ["a", "b\\"]}
    data, spooled = spool(json.dumps(doc).encode(), size)

    assert {k: v for k, v in data.items() if k != "img"} == {k: v for k, v in doc.items() if k != "img"}
    assert list(spooled) == [data["img"]] and spooled[data["img"]].file.read() == BLOB
