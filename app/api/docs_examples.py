"""Request examples for every route in /docs, added where the spec is built (an apispec plugin).

Path and query parameters get an `example` by name (Swagger UI fills "Try it out" with it), and
every operation's description ends with a runnable `curl` line built from the same examples.
"""
from __future__ import annotations

import base64
import json
import struct
import zlib

from apispec import BasePlugin

TASK_ID = "AQEgaFLqAAAAAA00NzIyNTQwOTQ1Njc2mB0l0Qc9rV3mCwF2c1kXb9HqLg"
PARAMETERS = {
    "task_id": TASK_ID, "video_id": TASK_ID, "model_id": "jimeng-video-3.0", "ids": f"{TASK_ID},4722540945676",
    "after": "page_AQ...", "limit": 20, "order": "desc", "format": "b64_json", "variant": "video",
}
BODY_EXAMPLES = {
    ("post", "/v1/videos/tasks/batch"): {"task_ids": [TASK_ID, "4722540945676"]},
    ("post", "/token/check"): {"token": "us-0123456789abcdef"},
    ("post", "/v1/doctor/capture"): {"log": {"version": "1.2", "creator": {"name": "WebInspector"}, "entries": [
        {"request": {"method": "POST", "url": "https://jimeng.jianying.com/mweb/v1/get_history?aid=513695&"
                                              "da_version=3.3.31", "headers": [], "postData": {"text": "{}"}}}]}},
}
# Bodies better sent from a file than inline.
CURL_BODIES = {("post", "/v1/doctor/capture"): "-H 'Content-Type: application/json' --data-binary @jimeng.har"}
SERVICE = "http://127.0.0.1:8000"


def png_data_uri(rgb: tuple[int, int, int], side: int = 64) -> str:
    """A square PNG of one colour as a data URI: an image an example can carry itself, so that "Try it
    out" needs no other host (the sandbox, like Jimeng, is sent the bytes)."""
    rows = b"".join(b"\0" + bytes(rgb) * side for _ in range(side))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


FIRST_FRAME = png_data_uri((230, 150, 60))      # an amber square
SECOND_IMAGE = png_data_uri((60, 110, 200))     # a blue one


class RequestExamples(BasePlugin):
    """Fill in examples after the marshmallow plugin has turned schemas into parameters."""

    def path_helper(self, path=None, operations=None, parameters=None, **kwargs):
        for parameter in parameters or []:
            _example(parameter)
        self._path_parameters = parameters or []
        return None

    def operation_helper(self, path=None, operations=None, **kwargs):
        for method, operation in (operations or {}).items():
            params = [p for p in [*getattr(self, "_path_parameters", []), *operation.get("parameters", [])]
                      if isinstance(p, dict)]
            for parameter in params:
                _example(parameter)
            body = operation.get("requestBody", {}).get("content", {})
            json_body = body.get("application/json")
            if json_body is not None and "example" not in json_body and (method, path) in BODY_EXAMPLES:
                json_body["example"] = BODY_EXAMPLES[(method, path)]
            curl = _curl(method, path, params, body, operation.get("security"), CURL_BODIES.get((method, path)))
            operation["description"] = (operation.get("description", "") + f"\n\nExample:\n\n    {curl}").strip()


def _example(parameter: dict) -> None:
    if "example" not in parameter and parameter.get("name") in PARAMETERS:
        parameter["example"] = PARAMETERS[parameter["name"]]


def _curl(method: str, path: str, params: list[dict], body: dict, security, body_args: str | None = None) -> str:
    url = path
    query = []
    for p in params:
        if p.get("in") == "path":
            url = url.replace("{" + p["name"] + "}", str(p.get("example", p["name"])))
        elif p.get("in") == "query" and "example" in p and p.get("required"):
            query.append(f"{p['name']}={p['example']}")
    parts = ["curl"]
    if method != "get":
        parts.append(f"-X {method.upper()}")
    if security and any(s for s in security):
        parts.append("-H 'Authorization: Bearer <sessionid>'")
    if body_args:
        parts.append(body_args)
    elif "application/json" in body:
        example = body["application/json"].get("example", {})
        parts.append("-H 'Content-Type: application/json' -d '" + json.dumps(example, ensure_ascii=False) + "'")
    elif "multipart/form-data" in body:
        parts.append("-F prompt='a paper boat' -F image_file=@first.png")
    parts.append(f"'{SERVICE}{url}" + ("?" + "&".join(query) if query else "") + "'")
    return " ".join(parts)
