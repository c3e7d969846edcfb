"""Uploading user media to ByteDance storage: images to ImageX, videos to VOD (protocol 4.1-4.4).

Each flow: temporary credentials from Jimeng (`get_upload_token`) -> Apply (SigV4) -> POST of the
bytes to the upload node (with the node's own `Auth`, not SigV4) -> Commit (SigV4). Every step is
safe to repeat (an applied but unused upload slot simply expires), so each step is retried on
connection errors, timeouts, 429 and 5xx.

Uploads do not go through the token's proxy (iptag sends them directly too) and carry no Jimeng
cookies. Errors name the step that failed and never include the credentials.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO
from urllib.parse import quote

import requests
from requests_aws4auth import AWS4Auth
from urllib3.util.retry import Retry

from app import errors
from app.jimeng.assets import Media, UploadedImage, UploadedVideo
from app.jimeng.client import ALGO_PROXY_PATH, JimengClient
from app.net.deadline import AnswerTooLarge, DeadlinePassed, Watch, read_body, timeouts
from app.net.sessions import upstream_session
from app.jimeng.regions import VOD_HOST, Region, Token
from app.jimeng.signing import browser_identity

log = logging.getLogger(__name__)

IMAGE_SCENE = 2                 # get_upload_token scene for ImageX
VIDEO_SCENE = 1                 # ... and for VOD
IMAGEX_VERSION = "2018-08-01"
VOD_VERSION = "2020-11-19"
VOD_SPACE_FALLBACK = "dreamina"
UPLOAD_OK = 2000                # the upload node's `code` on success (L1 checks it; iptag only HTTP 2xx)
MAX_VIDEO_SECONDS = 15.0        # Seedance refuses longer input videos; iptag checks after the commit
STEP_ATTEMPTS = 3               # each step: the first try and two retries
RETRY_BASE_DELAY = 0.5          # seconds; doubles per retry (0.5, 1.0)
BODY_CHUNK_BYTES = 256 * 1024
UPLOAD_MIN_BYTES_PER_SECOND = 1_000_000   # an upload may take JIMENG_TIMEOUT plus 1 s per MB

# Protocol 4.4: the content check's fixed query value and what a refusal looks like.
BABI_PARAM = json.dumps({"scenario": "image_video_generation", "feature_key": "aigc_to_image",
                         "feature_entrance": "to-generate",
                         "feature_entrance_detail": "to-generate-algo_proxy"}, separators=(",", ":"))
_RISK_MARKERS = ("2003", "risk not pass", "detected risk")
_UPLOAD_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_NONCE_ALPHABET = string.digits + string.ascii_lowercase


# -- public API ---------------------------------------------------------------------------------

def upload_image(client: JimengClient, token: Token, media: Media) -> UploadedImage:
    """Store an image in ImageX (protocol 4.1); the URI and size Jimeng's drafts refer to."""
    if media.kind != "image":
        raise errors.InvalidRequest(f"{media.field or 'this field'} must be an image", param=media.field or None)
    region = token.region
    creds = client.upload_token(token, IMAGE_SCENE)
    # CN names the ImageX service `service_id`; abroad the `space_name` is the service id.
    service_id = (creds.get("service_id") if region.code == "cn" else creds.get("space_name")) \
        or region.imagex_service_fallback
    flow = _Flow(client, region, creds, service="imagex", what="image")
    base = client.base(region.imagex_host) + "/"

    params = {"Action": "ApplyImageUpload", "Version": IMAGEX_VERSION, "ServiceId": service_id,
              "FileSize": str(media.size), "s": _nonce()}
    if region.code != "cn":
        params["device_platform"] = "web"
    address = _dig(flow.signed("apply", "GET", base, params), "apply", "UploadAddress", flow.what)
    store = _first(address.get("StoreInfos"), "apply", "StoreInfos", flow.what)
    hosts = address.get("UploadHosts") or []
    flow.upload_bytes(host=hosts[0] if hosts else "", store_uri=store.get("StoreUri", ""),
                      node_auth=store.get("Auth", ""), media=media)

    body = _json_bytes({"SessionKey": address.get("SessionKey", "")})
    result = flow.signed("commit", "POST", base,
                         {"Action": "CommitImageUpload", "Version": IMAGEX_VERSION, "ServiceId": service_id},
                         body=body)
    first = _first(result.get("Results"), "commit", "Results", flow.what)
    status = first.get("UriStatus")
    if status is not None and status != UPLOAD_OK:
        raise errors.UpstreamError(f"image upload failed at the commit step (UriStatus {status})")
    plugin = (result.get("PluginResult") or [{}])[0] or {}
    uri = first.get("Uri") or plugin.get("ImageUri")
    if not isinstance(uri, str) or not uri:
        raise errors.UpstreamError("image upload failed at the commit step (the answer has no Uri)")
    return UploadedImage(uri=uri, width=_number(plugin.get("ImageWidth")) or media.width or 0,
                         height=_number(plugin.get("ImageHeight")) or media.height or 0,
                         format=str(plugin.get("ImageFormat") or media.content_type.rpartition("/")[2]))


def upload_video(client: JimengClient, token: Token, media: Media) -> UploadedVideo:
    """Store a video in VOD (protocol 4.3); refuses videos longer than 15 s, before uploading when
    the file's own header says so, otherwise by VOD's measurement after the commit."""
    if media.kind != "video":
        raise errors.InvalidRequest(f"{media.field or 'this field'} must be a video", param=media.field or None)
    _check_length(media.duration_s, media)
    creds = client.upload_token(token, VIDEO_SCENE)
    space = creds.get("space_name") or VOD_SPACE_FALLBACK
    flow = _Flow(client, token.region, creds, service="vod", what="video")
    base = client.base(VOD_HOST) + "/"  # iptag uses this host for every region

    params = {"Action": "ApplyUploadInner", "Version": VOD_VERSION, "SpaceName": space, "FileType": "video",
              "IsInner": "1", "FileSize": str(media.size), "s": _nonce()}
    inner = _dig(flow.signed("apply", "GET", base, params), "apply", "InnerUploadAddress", flow.what)
    node = _first(inner.get("UploadNodes"), "apply", "UploadNodes", flow.what)
    store = _first(node.get("StoreInfos"), "apply", "StoreInfos", flow.what)
    flow.upload_bytes(host=node.get("UploadHost", ""), store_uri=store.get("StoreUri", ""),
                      node_auth=store.get("Auth", ""), media=media)

    body = _json_bytes({"SessionKey": node.get("SessionKey", ""), "Functions": []})
    result = flow.signed("commit", "POST", base,
                         {"Action": "CommitUploadInner", "Version": VOD_VERSION, "SpaceName": space}, body=body)
    first = _first(result.get("Results"), "commit", "Results", flow.what)
    vid = first.get("Vid") or node.get("Vid")
    if not isinstance(vid, str) or not vid:
        raise errors.UpstreamError("video upload failed at the commit step (the answer has no Vid)")
    meta = first.get("VideoMeta") or {}
    meta = meta if isinstance(meta, dict) else {}
    duration_s = float(_number(meta.get("Duration"), float) or media.duration_s or 0.0)
    _check_length(duration_s, media)
    return UploadedVideo(vid=vid, width=_number(meta.get("Width")), height=_number(meta.get("Height")),
                         duration_ms=round(duration_s * 1000))


def check_image_content(client: JimengClient, token: Token, uri: str, *, field: str | None = None) -> None:
    """CN only: Jimeng's face/IP check of an uploaded image (protocol 4.4).

    A refusal raises ContentRejected naming `field`; any other failure of the check is logged and
    ignored, as iptag does, so a flaky check never blocks a generation.
    """
    if not token.region.content_check:
        return
    body = {"scene": "image_face_ip", "options": {"ip_check": True},
            "req_key": "benchmark_test_user_upload_image_input", "file_list": [{"file_uri": uri}],
            "req_params": {}}
    try:
        client.call(token, ALGO_PROXY_PATH, body, params={"babi_param": BABI_PARAM})
    except errors.ServiceError as exc:
        text = f"{exc.message} {exc.extra.get('upstream_code', '')}".lower()
        if isinstance(exc, errors.ContentRejected) or any(marker in text for marker in _RISK_MARKERS):
            where = f"the image in {field}" if field else "an image"
            raise errors.ContentRejected(f"Jimeng's content check rejected {where}", param=field,
                                         extra={k: v for k, v in exc.extra.items() if k == "upstream_code"}) \
                from None
        log.warning("image content check failed (%s); continuing without it", exc.code)


# -- one upload flow ----------------------------------------------------------------------------

@functools.cache
def upload_session() -> requests.Session:
    """The Session for storage hosts (app/net/sessions.py): no retries of its own (the flow retries
    whole steps); proxies are the token's, never the environment's."""
    # read=False: a read timeout surfaces as a timeout, not as a MaxRetryError (a ConnectionError).
    return upstream_session(Retry(total=0, read=False), pool_connections=4, pool_maxsize=16)


class _SigV4(AWS4Auth):
    """SigV4 signing exactly iptag's header set (protocol 4.2): `x-amz-date` and
    `x-amz-security-token`, plus `x-amz-content-sha256` when there is a body. Not thread-safe:
    one instance per upload flow."""

    def __call__(self, req: requests.PreparedRequest) -> requests.PreparedRequest:
        has_body = bool(req.body)
        self.include_hdrs = {"x-amz-date", "x-amz-security-token"}
        if has_body:
            self.include_hdrs.add("x-amz-content-sha256")
        req = super().__call__(req)
        if not has_body:
            req.headers.pop("x-amz-content-sha256", None)   # added by the library, not signed, not sent
        return req


class _Flow:
    """The state one upload shares between its steps: signer, headers, retry policy, secrets to hide."""

    def __init__(self, client: JimengClient, region: Region, creds: dict, *, service: str, what: str) -> None:
        self.client, self.region, self.creds = client, region, creds
        self.service = service       # "imagex" | "vod"
        self.what = what             # "image" | "video", for messages
        self.session = upload_session()
        self.auth = _SigV4(creds.get("access_key_id", ""), creds.get("secret_access_key", ""),
                           region.sigv4_region, service, _amz_date(client.clock())[:8],
                           session_token=creds.get("session_token") or None)
        self.headers = {"Accept": "*/*", "Origin": self.region.upload_origin,
                        "Referer": self.region.upload_origin + "/ai-tool/generate",
                        "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty",
                        **browser_identity(self.region)}
        self.secrets = [s for s in (self.creds.get("access_key_id"), self.creds.get("secret_access_key"),
                                    self.creds.get("session_token")) if s]

    def __repr__(self) -> str:  # never print the credentials
        return f"_Flow(service={self.service!r}, region={self.region.code!r})"

    # -- steps ----------------------------------------------------------------------------------
    def signed(self, step: str, method: str, url: str, params: dict, *, body: bytes | None = None) -> dict:
        """A SigV4-signed ImageX/VOD OpenAPI call; its `Result`."""
        def send(timeout: tuple[float, float]) -> requests.Response:
            headers = {**self.headers, "x-amz-date": _amz_date(self.client.clock())}
            if body is not None:
                headers["Content-Type"] = "application/json"
            return self.session.request(method, url, params=params, data=body, headers=headers, auth=self.auth,
                                        timeout=timeout, allow_redirects=False, stream=True)

        resp, content = self._with_retries(step, send, self.client.timeout[1])
        try:
            payload: Any = json.loads(content)
        except (ValueError, RecursionError):
            raise self._failed(step, f"HTTP {resp.status_code}, not JSON", errors.UpstreamError) from None
        if not isinstance(payload, dict):
            raise self._failed(step, "the answer is not a JSON object", errors.UpstreamError)
        error = ((payload.get("ResponseMetadata") or {}).get("Error")
                 or (payload.get("Response") or {}).get("Error") or {})
        if error.get("Code") or error.get("Message") or resp.status_code >= 400:
            log.warning("%s upload %s step refused: HTTP %s %s", self.what, step, resp.status_code,
                        self._redact(str(error.get("Message") or ""))[:300])
            reason = self._redact(str(error.get("Code") or f"HTTP {resp.status_code}"))[:100]
            raise self._failed(step, reason, errors.UpstreamError)
        result = payload.get("Result")
        if not isinstance(result, dict):
            raise self._failed(step, "the answer has no Result", errors.UpstreamError)
        return result

    def upload_bytes(self, *, host: str, store_uri: str, node_auth: str, media: Media) -> None:
        """POST the file to the upload node, streamed from the file, with the node's own Auth."""
        if not _UPLOAD_HOST.fullmatch(host or "") or not store_uri or not node_auth:
            raise self._failed("apply", "the answer lacks an upload host, store URI or auth", errors.UpstreamError)
        self.secrets.append(node_auth)
        url = self.client.base("https://" + host) + "/upload/v1/" + quote(store_uri, safe="/-_.~")
        headers = {**self.headers, "Authorization": node_auth, "Content-CRC32": media.crc32,
                   "Content-Type": "application/octet-stream",
                   "Content-Disposition": 'attachment; filename="undefined"'}

        def send(timeout: tuple[float, float]) -> requests.Response:
            media.file.seek(0)
            return self.session.post(url, data=_FileBody(media.file, media.size), headers=headers,
                                     timeout=timeout, allow_redirects=False, stream=True)

        # Sending the bytes takes time of its own: the deadline grows with the size.
        seconds = self.client.timeout[1] + media.size / UPLOAD_MIN_BYTES_PER_SECOND
        try:
            resp, content = self._with_retries("upload", send, seconds)
        finally:
            media.file.seek(0)
        if resp.status_code >= 400:
            raise self._failed("upload", f"HTTP {resp.status_code}", errors.UpstreamError)
        try:
            answer = json.loads(content)
        except (ValueError, RecursionError):
            raise self._failed("upload", "the answer is not JSON", errors.UpstreamError) from None
        code = answer.get("code") if isinstance(answer, dict) else None
        if code != UPLOAD_OK:
            message = self._redact(str(answer.get("message") or "")) if isinstance(answer, dict) else ""
            detail = f"code {code}" + (f": {message[:200]}" if message else "")
            raise self._failed("upload", detail, errors.UpstreamError)

    # -- policy ---------------------------------------------------------------------------------
    def _with_retries(self, step: str, send: Callable[[tuple[float, float]], requests.Response],
                      seconds: float) -> tuple[requests.Response, bytes]:
        """Repeat `send` on connection errors, timeouts, 429 and 5xx; any other answer is returned
        with its body. Each attempt gets `seconds` for the whole answer."""
        failure: errors.ServiceError | None = None
        for attempt in range(1, STEP_ATTEMPTS + 1):
            started = time.monotonic()
            with Watch(seconds) as watch:
                try:
                    resp = send(timeouts(*self.client.timeout, watch))
                    content = read_body(resp, watch)
                except AnswerTooLarge:
                    raise self._failed(step, "the answer is too large", errors.UpstreamError) from None
                except (DeadlinePassed, requests.RequestException) as exc:
                    if watch.fired or isinstance(exc, (DeadlinePassed, requests.Timeout)):
                        failure = self._failed(step, "timed out", errors.UpstreamTimeout)
                    else:
                        failure = self._failed(step, f"cannot reach the storage host ({type(exc).__name__})",
                                               errors.UpstreamUnavailable)
                else:
                    log.debug("%s upload %s step: HTTP %s in %.0f ms", self.what, step, resp.status_code,
                              (time.monotonic() - started) * 1000)
                    if resp.status_code < 500 and resp.status_code != 429:
                        return resp, content
                    if resp.status_code == 429:
                        failure = self._failed(step, "HTTP 429", errors.RateLimited)
                        retry_after = resp.headers.get("Retry-After")
                        if retry_after:
                            failure.headers["Retry-After"] = retry_after
                    else:
                        failure = self._failed(step, f"HTTP {resp.status_code}", errors.UpstreamUnavailable)
            if attempt < STEP_ATTEMPTS:
                log.debug("retrying %s upload %s step after: %s", self.what, step, failure.message)
                self.client.sleep(RETRY_BASE_DELAY * 2 ** (attempt - 1))
        assert failure is not None
        raise failure

    def _failed(self, step: str, reason: str, cls: type[errors.ServiceError]) -> errors.ServiceError:
        return cls(f"{self.what} upload failed at the {step} step ({reason})")

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class _FileBody:
    """A file as a request body of known length. requests streams anything with `read` and takes
    the length from `__len__`, so it never calls `fileno()` (which would push a
    SpooledTemporaryFile onto disk) and never reads the whole file into one bytes object."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._file, self._size = file, size

    def __len__(self) -> int:
        return self._size

    def read(self, amt: int = -1) -> bytes:
        return self._file.read(amt)

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._file.read(BODY_CHUNK_BYTES):
            yield chunk


# -- small helpers ------------------------------------------------------------------------------

def _number(value: Any, kind: type = int) -> Any:
    """A number from a storage answer; 0 for anything else (odd values must not become a 500)."""
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        return 0
    return number if number == number and abs(number) < 1e12 else 0


def _check_length(duration_s: float, media: Media) -> None:
    if duration_s > MAX_VIDEO_SECONDS:
        name = media.field or "the video"
        raise errors.InvalidRequest(f"{name} is {duration_s:.1f} s long; Jimeng accepts videos of at most "
                                    f"{MAX_VIDEO_SECONDS:g} s", param=media.field or None)


def _dig(result: dict, step: str, key: str, what: str) -> dict:
    value = result.get(key)
    if not isinstance(value, dict):
        raise errors.UpstreamError(f"{what} upload failed at the {step} step (the answer has no {key})")
    return value


def _first(items: Any, step: str, key: str, what: str) -> dict:
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        raise errors.UpstreamError(f"{what} upload failed at the {step} step (the answer has no {key})")
    return items[0]


def _json_bytes(obj: dict) -> bytes:
    """The exact body bytes that get hashed into `x-amz-content-sha256` and sent."""
    return json.dumps(obj, separators=(",", ":")).encode()


def _amz_date(now: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def _nonce() -> str:
    """The `s` query parameter: 10 random base-36 characters (iptag)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(10))
