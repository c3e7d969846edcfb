"""The Jimeng API calls our client makes, by name: one table the client, the wire settings, the
capture diff and the refusal metric all read.

A call's name is what an operator writes in a setting (`JIMENG_EXTRA_HEADERS=generate:...`) and
what the metric's `call` label says; its path is what goes on the wire.
"""
from __future__ import annotations

GENERATE_PATH = "/mweb/v1/aigc_draft/generate"
CANCEL_PATH = "/mweb/v1/aigc_draft/cancel_generate"
HISTORY_PATH = "/mweb/v1/get_history_by_ids"
HISTORY_LIST_PATH = "/mweb/v1/get_history"
UPLOAD_TOKEN_PATH = "/mweb/v1/get_upload_token"
ALGO_PROXY_PATH = "/mweb/v1/algo_proxy"
LOCAL_ITEMS_PATH = "/mweb/v1/get_local_item_list"
CREDIT_PATH = "/commerce/v1/benefits/user_credit"
CREDIT_RECEIVE_PATH = "/commerce/v1/benefits/credit_receive"
ACCOUNT_PATH = "/passport/account/info/v2"
COMMON_CONFIG_PATH = "/mweb/v1/video_generate/get_common_config"
WORKSPACE_LIST_PATH = "/mweb/v1/workspace/list"

# name -> path. Names are stable: settings and dashboards use them. Append only.
CALL_PATHS: dict[str, str] = {
    "generate": GENERATE_PATH,
    "history": HISTORY_PATH,
    "history_list": HISTORY_LIST_PATH,
    "upload_token": UPLOAD_TOKEN_PATH,
    "content_check": ALGO_PROXY_PATH,
    "local_items": LOCAL_ITEMS_PATH,
    "credits": CREDIT_PATH,
    "credit_receive": CREDIT_RECEIVE_PATH,
    "account": ACCOUNT_PATH,
    "catalogue": COMMON_CONFIG_PATH,
    "workspaces": WORKSPACE_LIST_PATH,
    "cancel": CANCEL_PATH,
}
CALL_NAMES: dict[str, str] = {path: name for name, path in CALL_PATHS.items()}
# The path prefixes of Jimeng's API (a capture's other calls to them are "calls we never make").
API_PREFIXES = ("/mweb/", "/commerce/", "/passport/")


def call_name(path: str) -> str:
    """The name of the call to `path` ("other" for a path we do not call by name)."""
    return CALL_NAMES.get(path, "other")
