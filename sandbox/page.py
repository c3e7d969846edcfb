"""Jimeng's web page, as far as a browser-driving client needs it (protocol update 2.2, 2.6).

`/ai-tool/video/generate` (and the other generate pages) answers an HTML page that loads the
sandbox's security SDK (`page_sdk.js`) from a CDN-like path, initialises it with the protected
path list and an msToken issued for this page load, and also asks for a stylesheet and an image,
which a lean client blocks (the call log shows whether it did). Like Jimeng's web app, the page
then asks for the account, the catalogue and the history itself (`page_app.js`), with today's
constants, or the new ones in a drift drill (sandbox/drift.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response

from sandbox import catalogue, checks, shark
from sandbox.state import SandboxState

SDK_PATH = "/obj/image-lvweb-buz/common/scripts/sdk-glue-sandbox.js"
APP_PATH = "/obj/image-lvweb-buz/common/scripts/app-sandbox.js"
# The calls the page makes while it loads (page_app.js).
PAGE_CALLS = ("/passport/account/info/v2", "/mweb/v1/video_generate/get_common_config", "/mweb/v1/get_history")
STYLE_PATH = "/obj/image-lvweb-buz/common/styles/page.css"
BANNER_PATH = "/obj/image-lvweb-buz/common/images/banner.png"
PAGE_PATHS = ("/ai-tool/video/generate", "/ai-tool/image/generate", "/ai-tool/generate")
# Update 2.2: part of the page's `paths` list ([DB], from the live page's _SdkGlueInit call).
SIGNED_PATHS = ("/mweb/v1/aigc_draft/generate", "/mweb/v1/generate", "/mweb/v1/batch_generate_video",
                "/commerce/v1/benefits/credit_receive", "/mweb/v1/get_history_by_ids",
                "/mweb/v1/get_local_item_list")
_SDK_SOURCE = (Path(__file__).resolve().parent / "page_sdk.js").read_text(encoding="utf-8")
_APP_SOURCE = (Path(__file__).resolve().parent / "page_app.js").read_text(encoding="utf-8")
_PNG_1x1 = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                         "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def create_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("jimeng_page", __name__)
    keys = json.dumps({"aBogus": shark.A_BOGUS_KEY, "xBogus": shark.X_BOGUS_KEY, "xGnarly": shark.X_GNARLY_KEY})
    sdk = _SDK_SOURCE.replace("__SANDBOX_KEYS__", keys)

    def page():
        init = json.dumps({"aid": 513695, "pageId": 28324, "paths": list(SIGNED_PATHS),
                           "msToken": shark.issue_ms_token()})
        config = json.dumps(app_config(state)).replace("<", "\\u003c")   # nothing in it can end the script
        html = (f'<!doctype html><html><head><meta charset="utf-8"><title>sandbox generate</title>'
                f'<link rel="stylesheet" href="{STYLE_PATH}"><script src="{SDK_PATH}"></script>'
                f'<script>window._SdkGlueInit({init});</script>'
                f'<script>window.__SANDBOX_APP = {config};</script>'
                f'<script src="{APP_PATH}"></script></head>'
                f'<body><img src="{BANNER_PATH}" alt=""><div id="root"></div></body></html>')
        return Response(html, mimetype="text/html")

    @bp.get(APP_PATH)
    def app_script():
        return Response(_APP_SOURCE, mimetype="application/javascript")

    for path in PAGE_PATHS:
        bp.add_url_rule(path, f"page{path.replace('/', '_')}", page, methods=["GET"])

    @bp.get(SDK_PATH)
    def sdk_script():
        return Response(sdk, mimetype="application/javascript")

    @bp.get(STYLE_PATH)
    def stylesheet():
        return Response("body { margin: 0 }\n", mimetype="text/css")

    @bp.get(BANNER_PATH)
    def banner():
        return Response(_PNG_1x1, mimetype="image/png")

    return bp


def app_config(state: SandboxState) -> dict:
    """The constants of the page's own calls (CN, as jimeng.jianying.com), and the `Sign` of each
    for this page load's Device-Time."""
    drift = state.settings.drift.page_config()
    device_time = int(state.now())
    return {"aid": catalogue.CN_AID, "region": "cn", "pf": catalogue.PLATFORM_CODE,
            "appSdkVersion": catalogue.APP_SDK_VERSION, "webVersion": catalogue.PAGE_WEB_VERSION,
            "deviceTime": device_time,
            "signs": {path: checks.sign(path, catalogue.PLATFORM_CODE, drift["appvr"], str(device_time))
                      for path in PAGE_CALLS},
            **drift}
