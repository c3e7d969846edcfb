"""deploy/nginx.conf, rendered: which location each of the service's routes lands in, as nginx picks it.

nginx tries the regex locations in the order they appear and takes the first that matches; only when
none does it falls back to the longest prefix location (here `/`). The patterns are plain enough that
Python's `re` reads them as PCRE does.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from deploy.render_nginx import render, values
from sandbox.stack import ROOT

_LOCATION = re.compile(r"^\s*location\s+(~\*?|=|\^~)?\s*(\S+)\s*\{(.*?)^\s*\}", re.M | re.S)


def _rendered() -> str:
    return render(values(listen="127.0.0.1:8080", upstream="127.0.0.1:8000", max_upload_mb=25, wait_timeout=900))


def _locations() -> list[tuple[str, str, str]]:
    return [(mod or "", where, body) for mod, where, body in _LOCATION.findall(_rendered())
            if not where.startswith("@")]


def location_for(uri: str) -> str:
    """The body of the location nginx serves `uri` from."""
    locs = _locations()
    exact = [body for mod, where, body in locs if mod == "=" and where == uri]
    if exact:
        return exact[0]
    prefixes = sorted(((where, mod, body) for mod, where, body in locs if mod in ("", "^~") and uri.startswith(where)),
                      key=lambda p: len(p[0]), reverse=True)
    if prefixes and prefixes[0][1] == "^~":
        return prefixes[0][2]
    for mod, where, body in locs:
        if mod.startswith("~") and re.search(where, uri, re.I if mod == "~*" else 0):
            return body
    assert prefixes, f"no location serves {uri}"
    return prefixes[0][2]


SUBMITS = ["/v1/videos/generations", "/v1/images/generations", "/v1/images/edits",
           "/v1/images/compositions",   # blocks until the images exist, by default
           "/v1/videos"]                # OpenAI's create: blocks with `Prefer: wait`
CONTENT = ["/v1/videos/tasks/abc123/content", "/v1/images/tasks/abc123/content",
           "/v1/videos/video_abc123/content"]   # OpenAI's download_content
ORDINARY = ["/v1/videos/tasks/abc123", "/v1/videos/tasks/batch", "/v1/videos/video_abc123", "/v1/models",
            "/v1/videos/tasks", "/v1/images/tasks/abc123", "/ping", "/metrics"]


@pytest.mark.parametrize("uri", SUBMITS)
def test_every_submit_route_is_rate_limited_and_unbuffered(uri):
    body = location_for(uri)
    assert "limit_req zone=jimeng_submits" in body
    assert re.search(r"proxy_buffering\s+off;", body)


@pytest.mark.parametrize("uri", CONTENT)
def test_every_content_download_streams_unbuffered(uri):
    body = location_for(uri)
    assert re.search(r"proxy_buffering\s+off;", body)
    assert "limit_req" not in body


@pytest.mark.parametrize("uri", ORDINARY)
def test_polls_and_the_rest_are_neither_limited_nor_unbuffered(uri):
    body = location_for(uri)
    assert "limit_req" not in body and "proxy_buffering" not in body


def test_only_a_post_counts_against_the_submit_limit():
    # GET /v1/videos (OpenAI's list) shares its path with the create: its key must be empty (not counted).
    text = _rendered()
    zone = re.search(r"limit_req_zone\s+(\$\w+)\s+zone=jimeng_submits", text)
    assert zone, "no limit_req_zone for jimeng_submits"
    block = re.search(r"map\s+\$request_method\s+" + re.escape(zone.group(1)) + r"\s*\{(.*?)\}", text, re.S)
    assert block, f"{zone.group(1)} is not a map on the request method"
    pairs = dict(re.findall(r"^\s*(\S+)\s+(\S+);", block.group(1), re.M))
    assert pairs == {"POST": "$binary_remote_addr", "default": '""'}


def test_nginx_closes_its_idle_upstream_connections_before_gunicorn_would():
    """Whoever closes an idle keep-alive connection first must be nginx: a request nginx sends on a
    connection gunicorn is closing is lost (a 502 for a submit, which nginx does not resend)."""
    upstream = re.search(r"^upstream jimeng_api \{(.*?)^\}", _rendered(), re.M | re.S).group(1)
    nginx_seconds = int(re.search(r"keepalive_timeout\s+(\d+)s;", upstream).group(1))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "PROMETHEUS_", "JIMENG_OWN"))}
    script = ("import os, runpy, shutil; c = runpy.run_path('gunicorn.conf.py'); print(c['keepalive']); "
              "shutil.rmtree(os.environ['PROMETHEUS_MULTIPROC_DIR'])")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert nginx_seconds < int(done.stdout) - 2
