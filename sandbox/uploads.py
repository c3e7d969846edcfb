"""The upload chain of protocol 4: upload tokens, ImageX/VOD apply and commit, and upload nodes.

Remembers which session uploaded which image URI and video Vid, because a draft may only cite
media its own account uploaded.
"""
from __future__ import annotations

import secrets
import threading
import zlib
from dataclasses import dataclass, field

from sandbox import catalogue
from sandbox.checks import Caller
from sandbox.media import ImageInfo, VideoInfo, probe_image, probe_mp4
from sandbox.sigv4 import SigV4Error

TOKEN_SECONDS = 3600
UPLOAD_HOST = "upload.sandbox.invalid"   # the service must replace it with its base URL


class NodeError(Exception):
    """An upload node refusal: `{"code": <4xxx>, "message": ...}` instead of code 2000."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    secret: str
    session_token: str
    session_id: str
    kind: str             # "image" (scene 2, ImageX) or "video" (scene 1, VOD)
    space: str            # ImageX service id or VOD space name it is good for
    region: str
    expires_at: float


@dataclass
class UploadSlot:
    session_key: str
    store_uri: str
    auth: str
    credential: Credential
    file_size: int
    vid: str = ""
    data: bytes | None = None
    image: ImageInfo | None = None
    video: VideoInfo | None = None


@dataclass
class UploadDesk:
    """All upload state. Thread-safe: every public method takes the lock."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _credentials: dict[str, Credential] = field(default_factory=dict)
    _slots: dict[str, UploadSlot] = field(default_factory=dict)        # by session key
    _by_store_uri: dict[str, UploadSlot] = field(default_factory=dict)
    _images: dict[tuple[str, str], ImageInfo] = field(default_factory=dict)   # (session, uri)
    _videos: dict[tuple[str, str], VideoInfo] = field(default_factory=dict)   # (session, vid)

    def reset(self) -> None:
        with self._lock:
            for table in (self._credentials, self._slots, self._by_store_uri, self._images, self._videos):
                table.clear()

    # -- get_upload_token -------------------------------------------------------------------
    def issue_token(self, caller: Caller, scene: object, now: float) -> dict:
        """`data` of get_upload_token: scene 2 = ImageX (image), scene 1 = VOD (video)."""
        if scene not in (1, 2):
            raise ValueError("scene must be 2 (image) or 1 (video)")
        # get_upload_token carries the default query, so the region is a concrete one here.
        region = catalogue.REGIONS_BY_CODE[caller.region]
        kind = "image" if scene == 2 else "video"
        space = region.image_service if kind == "image" else catalogue.VOD_SPACE
        cred = Credential(access_key_id="AKTP" + secrets.token_hex(16), secret=secrets.token_urlsafe(30),
                          session_token="STS2" + secrets.token_urlsafe(48), session_id=caller.session_id,
                          kind=kind, space=space, region=region.code, expires_at=now + TOKEN_SECONDS)
        with self._lock:
            self._credentials[cred.access_key_id] = cred
        data = {"access_key_id": cred.access_key_id, "secret_access_key": cred.secret,
                "session_token": cred.session_token, "current_time": str(int(now)),
                "expired_time": str(int(cred.expires_at))}
        # 4.1: CN clients read `service_id`, abroad `space_name`; VOD always `space_name`.
        data["service_id" if kind == "image" and region.code == "cn" else "space_name"] = space
        return data

    def secrets_of(self, access_key_id: str, now: float) -> tuple[str, str] | None:
        """(secret, session token) of a live credential, for SigV4 verification."""
        with self._lock:
            cred = self._credentials.get(access_key_id)
        if cred is None or cred.expires_at < now:
            return None
        return cred.secret, cred.session_token

    # -- apply ------------------------------------------------------------------------------
    def apply(self, access_key_id: str, kind: str, space: str, file_size: str) -> UploadSlot:
        """Reserve a store URI and upload auth for one file (ApplyImageUpload / ApplyUploadInner)."""
        cred = self._credential_for(access_key_id, kind, space)
        if not file_size.isdigit() or int(file_size) <= 0:
            raise SigV4Error("InvalidParameter", "FileSize must be a positive integer", 400)
        if kind == "image":
            prefix = catalogue.REGIONS_BY_CODE[cred.region].store_prefix
            store_uri, vid = f"{prefix}-{space}/{secrets.token_hex(16)}", ""
        else:
            store_uri, vid = f"tos-cn-v-{space}/{secrets.token_hex(16)}", "v0" + secrets.token_hex(15)
        slot = UploadSlot(session_key=secrets.token_urlsafe(24), store_uri=store_uri,
                          auth="SpaceKey/" + space + "/1/:version:v2:" + secrets.token_urlsafe(32),
                          credential=cred, file_size=int(file_size), vid=vid)
        with self._lock:
            self._slots[slot.session_key] = slot
            self._by_store_uri[store_uri] = slot
        return slot

    # -- upload node ------------------------------------------------------------------------
    def receive(self, store_uri: str, authorization: str, crc_header: str, data: bytes) -> str:
        """Store the bytes of `POST /upload/v1/<store_uri>`; answer their CRC32."""
        with self._lock:
            slot = self._by_store_uri.get(store_uri)
        if slot is None:
            raise NodeError(4004, f"unknown store uri {store_uri!r}: call Apply first")
        if authorization != slot.auth:
            raise NodeError(4003, "Authorization must be exactly StoreInfos[0].Auth from the apply answer")
        crc = f"{zlib.crc32(data):08x}"
        if len(crc_header) != 8 or crc_header.lower() != crc:
            raise NodeError(4005, f"Content-CRC32 {crc_header!r} does not match the body (expected 8 hex "
                                  f"digits {crc})")
        image = probe_image(data) if slot.credential.kind == "image" else None
        video = probe_mp4(data) if slot.credential.kind == "video" else None
        with self._lock:
            slot.data, slot.image, slot.video = data, image, video
        return crc

    # -- commit -----------------------------------------------------------------------------
    def commit(self, access_key_id: str, kind: str, space: str, session_key: object) -> UploadSlot:
        """Finish an upload whose bytes arrived; afterwards its session may cite the media."""
        cred = self._credential_for(access_key_id, kind, space)
        with self._lock:
            slot = self._slots.get(session_key) if isinstance(session_key, str) else None
        if slot is None or slot.credential.session_id != cred.session_id or slot.credential.kind != kind:
            raise SigV4Error("InvalidSessionKey", "SessionKey is unknown or belongs to another upload", 400)
        if slot.data is None:
            raise SigV4Error("UploadNotFinished", "no bytes were uploaded for this SessionKey", 400)
        owner = cred.session_id
        with self._lock:
            if kind == "image":
                if slot.image is None:
                    raise SigV4Error("InvalidImage", "the uploaded bytes are not a PNG, JPEG, WebP or GIF", 400)
                self._images[(owner, slot.store_uri)] = slot.image
            else:
                if slot.video is None:
                    raise SigV4Error("InvalidVideo", "the uploaded bytes are not an MP4 with a movie header", 400)
                self._videos[(owner, slot.vid)] = slot.video
        return slot

    def image(self, session_id: str, uri: str) -> ImageInfo | None:
        with self._lock:
            return self._images.get((session_id, uri))

    def video(self, session_id: str, vid: str) -> VideoInfo | None:
        with self._lock:
            return self._videos.get((session_id, vid))

    def _credential_for(self, access_key_id: str, kind: str, space: str) -> Credential:
        with self._lock:
            cred = self._credentials.get(access_key_id)
        if cred is None:
            raise SigV4Error("InvalidAccessKeyId", "the access key id is no longer known (sandbox reset?)")
        if cred.kind != kind:
            raise SigV4Error("AccessDenied", f"this credential was issued for {cred.kind} uploads "
                                             f"(get_upload_token scene {2 if cred.kind == 'image' else 1})")
        if space != cred.space:
            name = "ServiceId" if kind == "image" else "SpaceName"
            raise SigV4Error("AccessDenied", f"{name} {space!r} is not the one issued with the token ({cred.space})")
        return cred
