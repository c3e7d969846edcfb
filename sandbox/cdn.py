"""Stands in for Jimeng's CDNs: the result media of finished records, and test inputs.

Every finished video is the same small real MP4 and every image the same PNG (assets/), served
with Range support like a real CDN, so downloads and streaming can be tested end to end.
"""
from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

from flask import Blueprint, abort, send_file, send_from_directory

from sandbox.media import probe_image, probe_mp4
from sandbox.records import MediaFacts
from sandbox.state import SandboxState

ASSETS = Path(__file__).resolve().parent / "assets"
RESULT_VIDEO = ASSETS / "sample.mp4"
RESULT_IMAGE = ASSETS / "sample.png"
HD_FACTOR = 6        # Jimeng's HD download is about 6297 kbit/s against a 1152 kbit/s preview


def hd_video(preview: bytes) -> bytes:
    """The HD download: the preview MP4 followed by a `free` box (players skip it), so the same
    frames come with about HD_FACTOR times the bytes, hence the bitrate."""
    padding = len(preview) * (HD_FACTOR - 1)
    return preview + struct.pack(">I", padding + 8) + b"free" + b"\0" * padding


HD_VIDEO = hd_video(RESULT_VIDEO.read_bytes())


def load_media_facts() -> MediaFacts:
    """Sizes, hash and duration of the served result media, read once per app."""
    video_bytes, image_bytes = RESULT_VIDEO.read_bytes(), RESULT_IMAGE.read_bytes()
    video, image = probe_mp4(video_bytes), probe_image(image_bytes)
    return MediaFacts(video_size=len(video_bytes), video_md5=hashlib.md5(video_bytes).hexdigest(),
                      video_seconds=video.duration_s, video_width=video.width, video_height=video.height,
                      image_width=image.width, image_height=image.height, hd_size=len(HD_VIDEO))


def create_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("cdn", __name__)

    def finished(history_id: str, kind: str):
        record = state.records.get(history_id)
        if record is None or record.draft.kind != kind or record.phase(state.now()) != "completed":
            abort(404)
        return record

    @bp.get("/media/<history_id>.mp4")
    def result_video(history_id: str):
        finished(history_id, "video")
        return send_file(RESULT_VIDEO, mimetype="video/mp4", conditional=True)

    @bp.get("/media/hd/<history_id>.mp4")
    def hd_result_video(history_id: str):
        finished(history_id, "video")
        return send_file(io.BytesIO(HD_VIDEO), mimetype="video/mp4", conditional=True, etag=False,
                         download_name=f"{history_id}.mp4")

    @bp.get("/media/<history_id>/<int:index>.png")
    def result_image(history_id: str, index: int):
        record = state.records.get(history_id)
        # An image is served once its round is delivered, before the whole record is finished.
        if record is None or record.draft.kind != "image" or index >= record.delivered(state.now()):
            abort(404)
        return send_file(RESULT_IMAGE, mimetype="image/png", conditional=True)

    @bp.get("/assets/<path:name>")
    def asset(name: str):
        return send_from_directory(ASSETS, name, conditional=True)

    return bp
