"""Version constants Jimeng gates on. Keep every one here: a ret 3018 means "update these"
(protocol doc 2.5 and 9)."""

APP_VERSION = "8.4.0"          # Appvr header, also inside Sign
PLATFORM_CODE = "7"            # Pf header, also inside Sign
APP_SDK_VERSION = "48.0.0"
DA_VERSION = "3.3.9"
WEB_VERSION = "7.5.0"
DRAFT_VERSION = "3.3.9"
VIDEO_MIN_VERSION = "3.0.5"
OMNI_MIN_VERSION = "3.3.9"
IMAGE_MIN_VERSION = "3.0.2"
BLEND_MIN_VERSION = "3.2.9"
SIGN_VERSION = "1"

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/142.0.0.0 Safari/537.36")
UPLOAD_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/132.0.0.0 Safari/537.36")
SEC_CH_UA = '"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"'
