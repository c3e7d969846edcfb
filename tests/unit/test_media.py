"""app.media.intake: fetching, decoding and sniffing user media.

Fetch tests use a real HTTP server on 127.0.0.1: `responses` would bypass requests-hardened's
address filter, which is exactly what these tests must exercise. A guard fails any test whose
code tries to open a socket to a non-loopback address, so the "refused" tests prove the refusal
happened before connecting.
"""
from __future__ import annotations

import base64
import io
import ipaddress
import socket
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests_hardened import ip_filter

from app.media import intake as media_mod
from app.media import probe as media_probe
from app.net import outbound, sessions
from app.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from tests.media_samples import _box, make_mp4, make_png
from app.media.intake import expect_kind, fetch_url, from_data_uri, from_stream, is_public_address

MB = 1024 * 1024


# -- tiny media files ---------------------------------------------------------------------------

def make_jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + b"\x01\x22\0\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


PNG = make_png()
MP4 = make_mp4(5.0)


# -- the loopback server and the no-outside-traffic guard --------------------------------------

class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.paths.append(self.path)
        port = srv.server_address[1]
        route = {
            "/sample.png": (200, "image/png", PNG),
            "/sample.mp4": (200, "video/mp4", MP4),
            "/octet.png": (200, "application/octet-stream", PNG),
            "/mislabeled": (200, "image/png", MP4),
            "/page.html": (200, "text/html; charset=utf-8", b"<!doctype html><p>not media</p>"),
            "/big": (200, "image/png", PNG + b"\0" * 4096),
        }
        redirects = {
            "/redirect": "/sample.png",
            "/redirect-to-localhost": f"http://localhost:{port}/sample.png",
            "/redirect-to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/redirect-to-private": "http://10.0.0.7/internal.png",
            "/loop": "/loop",
        }
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big-unannounced":      # no Content-Length: the body runs until close
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG + b"\0" * 4096)
        elif self.path == "/slow":
            srv.release.wait(5)
        elif self.path in route:
            status, ctype, body = route[self.path]
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args) -> None:
        pass


class MediaServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.paths: list[str] = []
        self.release = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture()
def server():
    srv = MediaServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def only_loopback_connections(monkeypatch):
    """Fail the test if anything tries to connect outside this machine."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"test tried to connect to non-loopback {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def fetch(url: str, **kwargs):
    kwargs.setdefault("field", "image_url")
    kwargs.setdefault("max_bytes", MB)
    kwargs.setdefault("timeout", 5.0)
    return fetch_url(url, **kwargs)


# -- fetching ------------------------------------------------------------------------------------

def test_fetches_png_from_loopback_when_allowed(server):
    media = fetch(server.url("/sample.png"), allow_loopback=True)

    assert (media.kind, media.content_type, media.filename) == ("image", "image/png", "sample.png")
    assert (media.width, media.height, media.size) == (3, 2, len(PNG))
    assert media.crc32 == f"{zlib.crc32(PNG):08x}"
    assert media.file.read() == PNG
    assert media.field == "image_url"


def test_fetches_mp4_and_reads_its_duration(server):
    media = fetch(server.url("/sample.mp4"), field="video_url", allow_loopback=True)

    assert (media.kind, media.content_type) == ("video", "video/mp4")
    assert media.duration_s == pytest.approx(5.0)


def test_follows_a_redirect_when_allowed(server):
    media = fetch(server.url("/redirect"), allow_loopback=True)

    assert media.file.read() == PNG
    assert server.paths == ["/redirect", "/sample.png"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.1", "2130706433"])
def test_loopback_is_refused_without_the_flag(server, host):
    with pytest.raises(InvalidRequest, match="address is not public") as exc:
        fetch(server.url("/sample.png", host=host))

    assert exc.value.param == "image_url"
    assert server.paths == []


def _first_connection_counts_as_public(monkeypatch):
    """Our own address rule re-checks the pinned address (the public session's adapter): the
    stand-in host passes it once."""
    real, calls = sessions.is_public_address, []

    def once(ip, *, allow_loopback=False):
        calls.append(ip)
        return True if len(calls) == 1 else real(ip, allow_loopback=allow_loopback)

    monkeypatch.setattr(sessions, "is_public_address", once)


def test_redirect_to_loopback_is_refused_without_the_flag(server, monkeypatch):
    # Stand-in for a public host that redirects inward: "media.example" resolves to our server.
    real = ip_filter.get_ip_address
    monkeypatch.setattr(ip_filter, "get_ip_address", lambda host, port, allow_loopback: (
        (ipaddress.ip_address("127.0.0.1"), port) if host == "media.example" else real(host, port, allow_loopback)))
    _first_connection_counts_as_public(monkeypatch)
    monkeypatch.setattr(outbound, "ALLOWED_PORTS", frozenset({80, 443, server.port}))

    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch(server.url("/redirect-to-localhost", host="media.example"))

    assert server.paths == ["/redirect-to-localhost"]


def test_address_filter_of_the_session_rechecks_every_hop(server, monkeypatch):
    """With our own URL checks switched off, requests-hardened alone still refuses the loopback hop."""
    real = ip_filter.get_ip_address
    monkeypatch.setattr(ip_filter, "get_ip_address", lambda host, port, allow_loopback: (
        (ipaddress.ip_address("127.0.0.1"), port) if host == "media.example" else real(host, port, allow_loopback)))
    monkeypatch.setattr(outbound, "checked_url", lambda url, **kwargs: url)
    _first_connection_counts_as_public(monkeypatch)

    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch(server.url("/redirect-to-localhost", host="media.example"))
    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch(server.url("/sample.png"))

    assert server.paths == ["/redirect-to-localhost"]


@pytest.mark.parametrize("path", ["/redirect-to-metadata", "/redirect-to-private"])
def test_redirect_to_internal_address_is_refused_even_with_loopback_allowed(server, path):
    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch(server.url(path), allow_loopback=True)

    assert server.paths == [path]


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/a.png",
    "http://192.168.1.20/a.png",
    "http://172.16.0.5/a.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/a.png",
    "http://0.0.0.0/a.png",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fe80::1]/a.png",
    "http://[::ffff:169.254.169.254]/a.png",
    "http://[::ffff:10.0.0.1]/a.png",
    "http://0xa9.0xfe.0xa9.0xfe/",             # 169.254.169.254 in hex
])
@pytest.mark.parametrize("allow_loopback", [False, True])
def test_private_and_metadata_addresses_are_refused_before_connecting(url, allow_loopback):
    with pytest.raises(InvalidRequest, match="address is not public") as exc:
        fetch(url, allow_loopback=allow_loopback)

    assert "169.254" not in exc.value.message and "10.0" not in exc.value.message


@pytest.mark.parametrize("address, allow_loopback, public", [
    ("93.184.215.14", False, True),
    ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", False, True),
    ("127.0.0.1", False, False),
    ("127.0.0.1", True, True),
    ("::1", True, True),
    ("10.1.2.3", True, False),
    ("192.168.0.1", True, False),
    ("169.254.169.254", True, False),
    ("fd00:ec2::254", True, False),
    ("::ffff:169.254.169.254", True, False),
    ("::ffff:127.0.0.1", True, True),
    ("100.100.100.200", True, False),           # Alibaba Cloud metadata (shared address space)
    ("224.0.0.1", True, False),
    ("0.0.0.0", True, False),
    # Odd IPv6 forms of loopback and metadata addresses, and site-local (issue 8, hole 6).
    ("::7f00:1", True, False),
    ("::a9fe:a9fe", True, False),
    ("::ffff:0:7f00:1", True, False),
    ("fec0::1", True, False),
    ("64:ff9b::a9fe:a9fe", True, False),
    ("2002:a9fe:a9fe::", True, False),
])
def test_is_public_address(address, allow_loopback, public):
    assert is_public_address(ipaddress.ip_address(address), allow_loopback=allow_loopback) is public


@pytest.mark.parametrize("host, allow_loopback", [
    ("10.0.0.1", True), ("192.168.1.1", True), ("169.254.169.254", True), ("fd00:ec2::254", True),
    ("localhost", False), ("127.0.0.1", False),
])
def test_library_filter_refuses_internal_literals_without_connecting(host, allow_loopback):
    with pytest.raises(ip_filter.InvalidIPAddress):
        ip_filter.filter_host(host, 80, allow_loopback=allow_loopback)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://example.com/",
                                 "example.com/a.png", "http:///a.png"])
def test_only_http_urls_with_a_host_are_fetched(url):
    with pytest.raises(InvalidRequest) as exc:
        fetch(url)
    assert exc.value.param == "image_url"


def test_urls_with_credentials_are_refused_without_echoing_them():
    with pytest.raises(InvalidRequest, match="credentials") as exc:
        fetch("https://alice:s3cret@example.com/a.png")
    assert "s3cret" not in exc.value.message


def test_non_default_ports_are_refused_for_public_hosts():
    with pytest.raises(InvalidRequest, match="default port"):
        fetch("http://example.com:6379/a.png")


def test_announced_size_over_the_limit_is_413(server):
    with pytest.raises(PayloadTooLarge, match="image_url is larger than the .* MB limit") as exc:
        fetch(server.url("/big"), max_bytes=1000, allow_loopback=True)
    assert exc.value.http_status == 413 and exc.value.param == "image_url"


def test_streamed_size_over_the_limit_is_413(server):
    with pytest.raises(PayloadTooLarge):
        fetch(server.url("/big-unannounced"), max_bytes=1000, allow_loopback=True)


def test_declared_type_contradicting_the_bytes_is_415(server):
    with pytest.raises(UnsupportedMediaType, match="image_url is declared as image/png") as exc:
        fetch(server.url("/mislabeled"), allow_loopback=True)
    assert exc.value.http_status == 415


def test_octet_stream_defers_to_the_bytes(server):
    assert fetch(server.url("/octet.png"), allow_loopback=True).content_type == "image/png"


def test_non_media_body_is_415(server):
    with pytest.raises(UnsupportedMediaType):
        fetch(server.url("/page.html"), allow_loopback=True)


def test_http_error_status_is_a_400_naming_the_field(server):
    with pytest.raises(InvalidRequest, match="could not fetch image_url: the server answered HTTP 404"):
        fetch(server.url("/nothing-here"), allow_loopback=True)


def test_redirect_chains_are_capped(server):
    with pytest.raises(InvalidRequest, match="redirects"):
        fetch(server.url("/loop"), allow_loopback=True)
    assert len(server.paths) == outbound.MAX_REDIRECTS + 1


def test_a_server_that_does_not_answer_times_out(server):
    with pytest.raises(InvalidRequest, match="timed out fetching image_url"):
        fetch(server.url("/slow"), timeout=0.3, allow_loopback=True)


def test_a_host_that_does_not_resolve_is_a_400(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(ip_filter.socket, "getaddrinfo", no_such_host)
    with pytest.raises(InvalidRequest, match="could not fetch image_url: the host name does not resolve"):
        fetch("https://no-such-host.example/a.png")


def test_fetch_session_ignores_proxy_settings_from_the_environment():
    session = media_mod._fetch_session(allow_loopback=False)
    assert session.trust_env is False
    assert isinstance(session, requests.Session)


# -- data URIs ----------------------------------------------------------------------------------

def test_data_uri_is_decoded():
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()

    media = from_data_uri(uri, field="image", max_bytes=MB)

    assert (media.kind, media.size, media.crc32) == ("image", len(PNG), f"{zlib.crc32(PNG):08x}")
    assert media.file.read() == PNG


def test_data_uri_tolerates_line_breaks_and_missing_padding():
    encoded = base64.b64encode(MP4).decode().rstrip("=")
    uri = "data:video/mp4;base64," + "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))

    media = from_data_uri(uri, field="video", max_bytes=MB)

    assert media.file.read() == MP4 and media.duration_s == pytest.approx(5.0)


def test_data_uri_size_is_checked_before_decoding():
    uri = "data:image/png;base64," + "!!!!" * 400   # invalid base64: decoding would fail first

    with pytest.raises(PayloadTooLarge):
        from_data_uri(uri, field="image", max_bytes=1000)


def test_data_uri_type_contradicting_the_bytes_is_415():
    uri = "data:image/png;base64," + base64.b64encode(MP4).decode()

    with pytest.raises(UnsupportedMediaType, match="image is declared as image/png"):
        from_data_uri(uri, field="image", max_bytes=MB)


@pytest.mark.parametrize("uri", ["data:image/png,rawbytes", "data:image/png;base64,AA!A", "notdata:xyz"])
def test_malformed_data_uris_are_400(uri):
    with pytest.raises(InvalidRequest):
        from_data_uri(uri, field="image", max_bytes=MB)


# -- uploaded files -----------------------------------------------------------------------------

def test_stream_is_copied_with_crc_and_type():
    media = from_stream(io.BytesIO(MP4), filename="clip.mp4", declared_type="video/mp4", field="video_file",
                        max_bytes=MB)

    assert (media.kind, media.filename, media.size) == ("video", "clip.mp4", len(MP4))
    assert media.crc32 == f"{zlib.crc32(MP4):08x}"


def test_stream_declared_as_image_but_holding_a_video_is_415():
    with pytest.raises(UnsupportedMediaType, match="image_file_1"):
        from_stream(io.BytesIO(MP4), filename="a.png", declared_type="image/png", field="image_file_1",
                    max_bytes=MB)


def test_within_one_kind_the_sniffed_type_wins():
    media = from_stream(io.BytesIO(PNG), filename="a.jpg", declared_type="image/jpeg", field="f", max_bytes=MB)
    assert media.content_type == "image/png"


@pytest.mark.parametrize("data, label", [(b"hello world, not an image", "supported"),
                                         (b"GIF89a" + b"\0" * 32, "GIF"),
                                         (b"\x1a\x45\xdf\xa3" + b"\0" * 32, "WebM")])
def test_unknown_or_refused_formats_are_415(data, label):
    with pytest.raises(UnsupportedMediaType, match=label):
        from_stream(io.BytesIO(data), filename="x", declared_type=None, field="f", max_bytes=MB)


def test_stream_over_the_limit_is_413():
    with pytest.raises(PayloadTooLarge, match="image_file_1 is larger than the 1 MB limit"):
        from_stream(io.BytesIO(PNG + b"\0" * MB), filename="a.png", declared_type="image/png",
                    field="image_file_1", max_bytes=MB)


def test_empty_upload_is_400():
    with pytest.raises(InvalidRequest, match="empty"):
        from_stream(io.BytesIO(b""), filename="a.png", declared_type="image/png", field="f", max_bytes=MB)


def test_expect_kind_names_the_field():
    video = from_stream(io.BytesIO(MP4), filename="", declared_type=None, field="image_file_2", max_bytes=MB)

    with pytest.raises(InvalidRequest, match="image_file_2 must be an image") as exc:
        expect_kind(video, "image")
    assert exc.value.param == "image_file_2"
    assert expect_kind(video, "video") is video


# -- probing ------------------------------------------------------------------------------------

def test_jpeg_size_comes_from_the_frame_header():
    assert media_probe.image_size(io.BytesIO(make_jpeg(640, 480)), "image/jpeg") == (640, 480)


def test_webp_sizes_from_each_header_kind():
    vp8x = b"RIFF\0\0\0\0WEBPVP8X" + struct.pack("<I", 10) + b"\0\0\0\0" + (1919).to_bytes(3, "little") \
        + (1079).to_bytes(3, "little")
    bits = (799) | (599 << 14)
    vp8l = b"RIFF\0\0\0\0WEBPVP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    vp8 = b"RIFF\0\0\0\0WEBPVP8 " + struct.pack("<I", 10) + b"\0\0\0" + b"\x9d\x01\x2a" + struct.pack("<HH", 320, 240)

    assert media_probe.image_size(io.BytesIO(vp8x), "image/webp") == (1920, 1080)
    assert media_probe.image_size(io.BytesIO(vp8l), "image/webp") == (800, 600)
    assert media_probe.image_size(io.BytesIO(vp8), "image/webp") == (320, 240)
    assert media_probe.sniff(vp8x).content_type == "image/webp"


@pytest.mark.parametrize("kwargs", [{"version": 1}, {"mdat_first": True}, {"timescale": 90000}])
def test_mp4_duration_variants(kwargs):
    data = make_mp4(16.5, **kwargs)
    assert media_probe.video_duration(io.BytesIO(data), len(data)) == pytest.approx(16.5)


def test_heic_is_not_taken_for_a_video():
    heic = _box(b"ftyp", b"heic" + b"\0\0\0\0" + b"mif1heic")
    assert media_probe.sniff(heic).supported is False
    assert media_probe.sniff(heic).kind == "image"


@pytest.mark.parametrize("address", ["::7f00:1", "::a9fe:a9fe", "::ffff:0:7f00:1", "fec0::1"])
def test_a_name_resolving_to_an_odd_ipv6_form_is_refused_before_connecting(server, monkeypatch, address):
    """requests-hardened alone lets these through (they are not `is_private`): our rule re-checks."""
    real = ip_filter.get_ip_address
    monkeypatch.setattr(ip_filter, "get_ip_address", lambda host, port, allow_loopback: (
        (ipaddress.ip_address(address), port) if host == "media.example" else real(host, port, allow_loopback)))

    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch("http://media.example/sample.png")
    with pytest.raises(InvalidRequest, match="address is not public"):
        fetch(f"http://[{address}]/sample.png", allow_loopback=True)

    assert server.paths == []
