"""Issue 8, hole 2: bodies are capped as they stream (chunked or not), prompts have a limit, and
data URIs in JSON are decoded to disk as they stream. Each test failed before its fix."""
from __future__ import annotations

import base64
import io
import json
import tracemalloc

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.api.request_body import SMALL_BODY
from tests.api.helpers import auth


class Endless(io.RawIOBase):
    """A request body of `size` bytes produced on demand, counting what the app read."""

    def __init__(self, size: int, head: bytes = b'{"token": "') -> None:
        self.size, self.head, self.read_bytes = size, head, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.read_bytes)
        if n <= 0:
            return 0
        data = (self.head if self.read_bytes == 0 else b"") + b"a" * n
        buffer[:n] = data[:n]
        self.read_bytes += n
        return n


class Answer:
    def __init__(self, status: str, body: bytes) -> None:
        self.status_code, self.body = int(status.split()[0]), body

    def get_json(self) -> dict:
        return json.loads(self.body)


def chunked(app, path: str, body: Endless, headers: dict | None = None) -> Answer:
    """A request without Content-Length, as gunicorn hands a chunked one to the app."""
    environ = EnvironBuilder(path=path, method="POST", content_type="application/json",
                             headers={"Transfer-Encoding": "chunked", **(headers or {})}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": body, "wsgi.input_terminated": True})
    app_iter, status, _ = run_wsgi_app(app, environ, buffered=True)
    return Answer(status, b"".join(app_iter))


@pytest.mark.parametrize("path", ["/token/check", "/v1/videos/tasks/batch"])
def test_a_chunked_body_on_a_small_route_is_cut_at_the_cap_while_streaming(app, path):
    body = Endless(20 * 1024 * 1024)

    resp = chunked(app, path, body, auth("sess"))

    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "payload_too_large"
    assert body.read_bytes <= SMALL_BODY + 64 * 1024


def test_a_chunked_json_submit_is_capped_too(app):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    body = Endless(20 * 1024 * 1024, head=b'{"prompt": "')

    resp = chunked(app, "/v1/videos/generations", body, auth("sess"))

    assert resp.status_code == 413
    assert body.read_bytes <= 2 * 1024 * 1024


def test_a_prompt_past_the_limit_is_a_400_before_any_upstream_call(app, client):
    limit = app.config["MAX_PROMPT_CHARS"]
    resp = client.post("/v1/videos/generations", json={"prompt": "a" * (limit + 1)}, headers=auth("sess"))

    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["code"] == "invalid_request" and error["param"] == "prompt"
    assert str(limit) in error["message"]


def test_a_frame_prompt_past_the_limit_is_a_400(app, client):
    limit = app.config["MAX_PROMPT_CHARS"]
    frames = [{"image": "https://example.com/a.png", "duration": 2, "prompt": "a" * (limit + 1)},
              {"image": "https://example.com/b.png", "duration": 2}]
    resp = client.post("/v1/videos/generations", json={"function_mode": "multi_frame", "frames": frames},
                       headers=auth("sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "frames[0].prompt"


def test_a_json_data_uri_is_decoded_to_disk_not_held_in_memory(client):
    """20 MB of base64 in JSON: peak Python memory stays far below the body (it was ~4x the body)."""
    payload = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * (15 * 1024 * 1024)).decode()
    body = json.dumps({"prompt": "x", "ratio": "7:5", "file_paths": ["data:image/png;base64," + payload]}).encode()
    tracemalloc.start()
    try:
        resp = client.post("/v1/videos/generations", data=body, content_type="application/json",
                           headers=auth("sess"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "ratio"
    assert peak < len(body) // 2, f"peak {peak / 1e6:.1f} MB for a {len(body) / 1e6:.1f} MB body"
