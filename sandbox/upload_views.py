"""ImageX and VOD (`/?Action=...`, SigV4-signed) and the upload nodes (`/upload/v1/<StoreUri>`),
answering in the shapes of protocol 4.1 and 4.3."""
from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint, jsonify, request

from sandbox import sigv4
from sandbox.sigv4 import SigV4Error
from sandbox.state import SandboxState
from sandbox.uploads import UPLOAD_HOST, NodeError, UploadSlot

# Action -> (service, Version, HTTP method, kind, query parameter naming the service/space)
ACTIONS = {
    "ApplyImageUpload": ("imagex", "2018-08-01", "GET", "image", "ServiceId"),
    "CommitImageUpload": ("imagex", "2018-08-01", "POST", "image", "ServiceId"),
    "ApplyUploadInner": ("vod", "2020-11-19", "GET", "video", "SpaceName"),
    "CommitUploadInner": ("vod", "2020-11-19", "POST", "video", "SpaceName"),
}


def create_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("uploads", __name__)

    @bp.route("/", methods=["GET", "POST"])
    def open_api():
        action = request.args.get("Action", "")
        request_id = secrets.token_hex(16).upper()
        meta = {"RequestId": request_id, "Action": action, "Version": request.args.get("Version", "")}
        try:
            if action not in ACTIONS:
                raise SigV4Error("InvalidAction", f"unknown Action {action!r}", 400)
            service, version, method, kind, space_param = ACTIONS[action]
            meta["Service"] = service
            if request.args.get("Version") != version:
                raise SigV4Error("InvalidVersion", f"{action} needs Version={version}", 400)
            if request.method != method:
                raise SigV4Error("InvalidHttpMethod", f"{action} is called with {method}", 400)
            now = state.now()
            signed = sigv4.SignedRequest(request.method, request.path, request.query_string.decode(),
                                         request.headers, request.get_data())
            access_key = sigv4.verify(signed, service, lambda ak: state.uploads.secrets_of(ak, now), now)
            space = request.args.get(space_param, "")
            if action.startswith("Apply"):
                if kind == "video" and (request.args.get("FileType") != "video" or request.args.get("IsInner") != "1"):
                    raise SigV4Error("InvalidParameter", "ApplyUploadInner needs FileType=video&IsInner=1", 400)
                slot = state.uploads.apply(access_key, kind, space, request.args.get("FileSize", ""))
                result = _apply_image(slot) if kind == "image" else _apply_video(slot)
            else:
                body = request.get_json(silent=True)
                if not isinstance(body, dict):
                    raise SigV4Error("InvalidParameter", "the body must be a JSON object with SessionKey", 400)
                if kind == "video" and not isinstance(body.get("Functions", []), list):
                    raise SigV4Error("InvalidParameter", "Functions must be a list", 400)
                slot = state.uploads.commit(access_key, kind, space, body.get("SessionKey"))
                result = _commit_image(slot) if kind == "image" else _commit_video(slot)
        except SigV4Error as exc:
            meta["Error"] = {"Code": exc.code, "Message": exc.message}
            return jsonify({"ResponseMetadata": meta}), exc.status
        return jsonify({"ResponseMetadata": meta, "Result": {**result, "RequestId": request_id}})

    @bp.route("/upload/v1/<path:store_uri>", methods=["POST"])
    def upload_node(store_uri: str):
        try:
            crc = state.uploads.receive(store_uri, request.headers.get("Authorization", ""),
                                        request.headers.get("Content-CRC32", ""), request.get_data())
        except NodeError as exc:
            # HTTP 200 with a non-2000 code: a client that only checks the status misses it (L1 checks `code`).
            return jsonify({"code": exc.code, "apiversion": "v1", "message": exc.message, "data": {}})
        return jsonify({"code": 2000, "apiversion": "v1", "message": "Success", "data": {"crc32": crc}})

    return bp


def _apply_image(slot: UploadSlot) -> dict:
    return {"UploadAddress": {"StoreInfos": [{"StoreUri": slot.store_uri, "Auth": slot.auth, "UploadID": ""}],
                              "UploadHosts": [UPLOAD_HOST], "UploadHeader": None, "SessionKey": slot.session_key,
                              "Cloud": ""}}


def _apply_video(slot: UploadSlot) -> dict:
    node = {"Vid": slot.vid, "Type": "video", "StoreInfos": [{"StoreUri": slot.store_uri, "Auth": slot.auth}],
            "UploadHost": UPLOAD_HOST, "SessionKey": slot.session_key, "UploadHeader": None}
    return {"InnerUploadAddress": {"UploadNodes": [node]}}


def _commit_image(slot: UploadSlot) -> dict:
    image = slot.image
    return {"Results": [{"Uri": slot.store_uri, "UriStatus": 2000}],
            "PluginResult": [{"FileName": slot.session_key, "SourceUri": slot.store_uri, "ImageUri": slot.store_uri,
                              "ImageWidth": image.width, "ImageHeight": image.height, "ImageFormat": image.format,
                              "ImageSize": len(slot.data), "ImageMd5": hashlib.md5(slot.data).hexdigest(),
                              "FrameCnt": 1}]}


def _commit_video(slot: UploadSlot) -> dict:
    video = slot.video
    bitrate = int(len(slot.data) * 8 / video.duration_s) if video.duration_s else 0
    meta = {"Uri": slot.store_uri, "Width": video.width, "Height": video.height,
            "Duration": round(video.duration_s, 3), "Bitrate": bitrate, "Format": "mp4", "Codec": "h264",
            "Size": len(slot.data), "Md5": hashlib.md5(slot.data).hexdigest(), "FileType": "video"}
    return {"Results": [{"Vid": slot.vid, "VideoMeta": meta}]}
