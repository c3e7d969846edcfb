"""Version constants and browser identity Jimeng gates on: the one place to change them.

Jimeng moves these without notice; a ret 3018 usually means one of them is stale. Each can be
overridden from the environment as `JIMENG_<NAME>` (e.g. `JIMENG_DA_VERSION=3.3.30`) so an
operator fixes the next drift by restarting, without a release. Values are read once, at import
(workers are started with their environment). Sources and conflicts: docs/protocol.md.
"""
from __future__ import annotations

import os

ENV_PREFIX = "JIMENG_"

# name -> (default, what it is); the README's constants table lists the same names.
DEFAULTS: dict[str, tuple[str, str]] = {
    "APP_VERSION": ("8.4.0", "Appvr header, also inside Sign"),
    "PLATFORM_CODE": ("7", "Pf header, also inside Sign"),
    "APP_SDK_VERSION": ("48.0.0", "App-Sdk-Version header"),
    "SIGN_VERSION": ("1", "Sign-Ver header"),
    "DA_VERSION": ("3.3.28", "da_version query parameter"),
    "WEB_VERSION": ("7.5.0", "web_version query parameter"),
    "DRAFT_VERSION": ("3.3.14", "draft_content.version of video drafts"),
    "VIDEO_MIN_VERSION": ("3.0.5", "draft and input min_version of video drafts"),
    "OMNI_MIN_VERSION": ("3.3.9", "min_version of omni-reference video drafts"),
    "IMAGE_DRAFT_VERSION": ("3.3.28", "draft_content.version of image drafts"),
    "IMAGE_MIN_VERSION": ("3.0.2", "min_version of image drafts"),
    "BLEND_MIN_VERSION": ("3.2.9", "min_version of image blend drafts"),
    "CHROME_UA": ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/142.0.0.0 Safari/537.36", "User-Agent on every upstream call"),
    # The order real Chrome 142 sends (Chromium first, the GREASE brand last).
    "SEC_CH_UA": ('"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"',
                  "Sec-Ch-Ua header; must match CHROME_UA's version"),
    "SEC_CH_UA_PLATFORM": ('"Windows"', "Sec-Ch-Ua-Platform header; must match CHROME_UA's OS"),
}


def _value(name: str) -> str:
    raw = os.environ.get(ENV_PREFIX + name, "").strip()
    return raw or DEFAULTS[name][0]


def current() -> dict[str, str]:
    """Every constant as in force, by name (for /healthz-style reports and tests)."""
    return {name: _value(name) for name in DEFAULTS}


APP_VERSION = _value("APP_VERSION")
PLATFORM_CODE = _value("PLATFORM_CODE")
APP_SDK_VERSION = _value("APP_SDK_VERSION")
SIGN_VERSION = _value("SIGN_VERSION")
DA_VERSION = _value("DA_VERSION")
WEB_VERSION = _value("WEB_VERSION")
DRAFT_VERSION = _value("DRAFT_VERSION")
VIDEO_MIN_VERSION = _value("VIDEO_MIN_VERSION")
OMNI_MIN_VERSION = _value("OMNI_MIN_VERSION")
IMAGE_DRAFT_VERSION = _value("IMAGE_DRAFT_VERSION")
IMAGE_MIN_VERSION = _value("IMAGE_MIN_VERSION")
BLEND_MIN_VERSION = _value("BLEND_MIN_VERSION")
CHROME_UA = _value("CHROME_UA")
SEC_CH_UA = _value("SEC_CH_UA")
SEC_CH_UA_PLATFORM = _value("SEC_CH_UA_PLATFORM")
# One browser identity for every call: a browser does not change version between an API call and
# an upload (the upload UA used to say Chrome 132 while the API calls said 142).
UPLOAD_UA = CHROME_UA
