"""Issue 21, section 2: a chunked body the server cannot decode (chunk size `zz`, `-1`) is a 400 on
every route that reads a body, JSON or multipart; it answered 500. The body object here is
gunicorn's own chunked reader, as the gevent worker hands it to the app; tests/e2e/test_hostile.py
sends the same bytes over a real socket."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import responses
from gunicorn.http.body import Body, ChunkedReader
from gunicorn.http.unreader import IterUnreader
from werkzeug.test import EnvironBuilder, run_wsgi_app

from tests.api.helpers import auth

BODY_ROUTES = ["/v1/videos/generations", "/v1/videos", "/v1/images/generations", "/v1/images/compositions",
               "/v1/images/edits", "/v1/videos/tasks/batch", "/v1/images/tasks/batch", "/token/check"]
CONTENT_TYPES = ["application/json", "multipart/form-data; boundary=b"]


def gunicorn_chunked(raw: bytes) -> Body:
    return Body(ChunkedReader(SimpleNamespace(), IterUnreader([raw])))


def send(app, path: str, content_type: str, raw: bytes) -> tuple[int, dict]:
    environ = EnvironBuilder(path=path, method="POST", content_type=content_type,
                             headers={"Transfer-Encoding": "chunked", **auth("sess")}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": gunicorn_chunked(raw), "wsgi.input_terminated": True})
    app_iter, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(app_iter))


@responses.activate
@pytest.mark.parametrize("size", [b"zz", b"-1", b"1x", b""])
@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("path", BODY_ROUTES)
def test_a_broken_chunk_size_is_a_400_on_every_body_route(app, path, content_type, size):
    status, body = send(app, path, content_type, size + b"\r\n{}\r\n0\r\n\r\n")

    assert status == 400, body
    assert body["error"]["code"] == "invalid_request" and "cannot be read" in body["error"]["message"]
    assert len(responses.calls) == 0


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_chunk_without_its_terminator_is_a_400(app, content_type):
    status, body = send(app, "/v1/videos/tasks/batch", content_type, b"2\r\n{}XX0\r\n\r\n")

    assert status == 400 and body["error"]["code"] == "invalid_request", body


def test_a_well_formed_chunked_body_is_still_read(app):
    raw = json.dumps({"task_ids": ["no-such-task"]}).encode()
    status, body = send(app, "/v1/videos/tasks/batch", "application/json",
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw))

    assert status == 200 and body["data"][0]["status"] == "not_found", body
