"""Issue 21, section 2: result downloads (`/content`, `format=b64_json`, ours and OpenAI's) pass the
same address checks as media fetches, redirects included. A result host that redirected to 127.0.0.1
answered the loopback server's bytes.

The result host is a real loopback HTTP server (`responses` would bypass the address filter): its
name, `cdn.example`, resolves to 127.0.0.1 for the first connection only, as a public CDN would; what
it redirects to meets the real rule.
"""
from __future__ import annotations

import base64
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses
from requests_hardened import ip_filter

from app.net import outbound, sessions
from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import HISTORY_URL, LOCAL_ITEMS_URL, envelope, finished_record, local_items_answer

RID = "4722540945676"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000
SECRET = b"\x00\x00\x00\x18ftypmp42 internal bytes nobody outside may read"


class ResultHost(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host: ResultHost = self.server   # type: ignore[assignment]
        host.paths.append(self.path)
        port = host.server_address[1]
        redirects = {"/to-loopback": f"http://127.0.0.1:{port}/internal",
                     "/to-loopback-name": f"http://internal.example:{port}/internal",
                     "/to-metadata": "http://169.254.169.254/latest/meta-data/",
                     "/to-private": "http://10.0.0.7/internal",
                     "/to-video": "/video.mp4"}
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = {"/video.mp4": VIDEO, "/internal": SECRET}.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def result_host():
    host = ResultHost()
    thread = threading.Thread(target=host.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield host
    host.shutdown()
    host.server_close()


@pytest.fixture
def public_cdn(monkeypatch, result_host):
    """`cdn.example` and `internal.example` resolve to 127.0.0.1; the first connection of the test
    (to the CDN) counts as public, every later one meets the real address rule."""
    real_getaddrinfo, real_filter, real_rule, seen = socket.getaddrinfo, ip_filter.get_ip_address, \
        sessions.is_public_address, []
    names = ("cdn.example", "internal.example")

    def getaddrinfo(host, port, *args, **kwargs):
        return real_getaddrinfo("127.0.0.1" if host in names else host, port, *args, **kwargs)

    def resolve(host, port, allow_loopback):
        # requests-hardened's own check would refuse 127.0.0.1 at once; ours (below) decides instead.
        return (ipaddress.ip_address("127.0.0.1"), port) if host in names else real_filter(host, port, allow_loopback)

    def rule(ip, *, allow_loopback=False):
        seen.append(ip)
        return True if len(seen) == 1 else real_rule(ip, allow_loopback=allow_loopback)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(ip_filter, "get_ip_address", resolve)
    monkeypatch.setattr(sessions, "is_public_address", rule)
    monkeypatch.setattr(outbound, "ALLOWED_PORTS", frozenset({80, 443, result_host.server_address[1]}))
    return result_host


def completed_task(app, clock, result_url: str) -> str:
    """A completed task whose result (the preview: no HD link) is `result_url`."""
    record = finished_record(RID)
    record["item_list"][0]["video"]["transcoded_video"]["origin"]["video_url"] = result_url
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer())
    responses.add_passthru("http://cdn.example")
    responses.add_passthru("http://internal.example")
    responses.add_passthru("http://127.0.0.1")
    return task_id_for(app, "sess", RID, submitted_at=clock.now)


DOWNLOADS = ["/v1/videos/tasks/{id}/content", "/v1/videos/tasks/{id}/content?format=b64_json",
             "/v1/videos/{id}/content"]


def download(client, route: str, task_id: str):
    return client.get(route.format(id=task_id), headers=auth("sess"))


@responses.activate
@pytest.mark.parametrize("route", DOWNLOADS)
@pytest.mark.parametrize("path", ["/to-loopback", "/to-loopback-name", "/to-metadata", "/to-private"])
def test_a_result_that_redirects_to_an_internal_address_is_refused(app, client, clock, public_cdn, route, path):
    task_id = completed_task(app, clock, public_cdn.url(path, host="cdn.example"))

    resp = download(client, route, task_id)

    error = resp.get_json()["error"]
    assert resp.status_code == 502 and error["code"] == "upstream_error", error
    assert "refused" in error["message"] and "not public" in error["message"]
    assert SECRET not in resp.get_data() and "internal" not in public_cdn.paths[1:]
    assert public_cdn.paths == [path]


@responses.activate
@pytest.mark.parametrize("route", DOWNLOADS)
def test_a_result_on_a_loopback_address_is_refused(app, client, clock, result_host, route):
    task_id = completed_task(app, clock, result_host.url("/video.mp4"))

    resp = download(client, route, task_id)

    assert resp.status_code == 502 and "not public" in resp.get_json()["error"]["message"]
    assert result_host.paths == []


@responses.activate
@pytest.mark.parametrize("route", DOWNLOADS)
def test_a_public_result_that_redirects_to_a_public_host_is_still_served(app, client, clock, public_cdn, route,
                                                                         monkeypatch):
    for module in (outbound, sessions):     # every address counts as public: our URL check and the session's
        monkeypatch.setattr(module, "is_public_address", lambda ip, allow_loopback=False: True)
    task_id = completed_task(app, clock, public_cdn.url("/to-video", host="cdn.example"))

    resp = download(client, route, task_id)

    assert resp.status_code == 200, resp.get_data()[:300]
    body = base64.b64decode(resp.get_json()["b64_json"]) if "b64_json" in route else resp.get_data()
    assert body == VIDEO


@responses.activate
@pytest.mark.parametrize("route", DOWNLOADS)
def test_with_allow_loopback_media_a_loopback_result_is_served(app, client, clock, result_host, route):
    # The sandbox and the e2e tests serve results on loopback.
    app.extensions["app_config"].ALLOW_LOOPBACK_MEDIA = True
    task_id = completed_task(app, clock, result_host.url("/video.mp4"))

    resp = download(client, route, task_id)

    assert resp.status_code == 200
    body = base64.b64decode(resp.get_json()["b64_json"]) if "b64_json" in route else resp.get_data()
    assert body == VIDEO


@responses.activate
@pytest.mark.parametrize("path", ["/to-metadata", "/to-private"])
def test_with_allow_loopback_media_a_redirect_to_a_private_address_is_still_refused(app, client, clock,
                                                                                   result_host, path):
    app.extensions["app_config"].ALLOW_LOOPBACK_MEDIA = True
    task_id = completed_task(app, clock, result_host.url(path))

    resp = download(client, "/v1/videos/tasks/{id}/content", task_id)

    assert resp.status_code == 502 and "not public" in resp.get_json()["error"]["message"]
