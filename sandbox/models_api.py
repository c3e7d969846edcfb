"""The live catalogue and workspaces of the fake Jimeng (2026 update 3, 4.1, 5).

- `get_common_config` answers per region and per account tier: a session id starting with `vip`
  is a VIP account and sees the VIP keys as available; others see them with a non-zero status.
  Removed models (settings `removed_models`) are left out, as [SB] saw.
- generate answers ret 2061 for a removed model, and 1006 "no relevant benefits" for a VIP key
  from a non-VIP account ([DR] 9.6's credit refusal, the closest documented answer).
- abroad, `workspace/list` names the account's workspace and generate must carry it in
  `extend.workspace_id` ([DR] 9.6, 10.3).
"""
from __future__ import annotations

import hashlib

from sandbox import catalogue
from sandbox.checks import Caller
from sandbox.drafts import Draft, bad
from sandbox.envelope import Refusal
from sandbox.state import SandboxState

RET_MODEL_GONE = "2061"
RET_NO_CREDIT_2026 = "1006"
CONFIG_SCENES = ("generate_video", "video_generate")   # [ZN]/[MJ] and [SB] both worked
UNAVAILABLE_STATUS = 1


def is_vip(caller: Caller) -> bool:
    return caller.session_id.startswith("vip")


def workspace_id(caller: Caller) -> int:
    """The account's (only) workspace: stable per session, 12 digits like [DR]'s capture."""
    digest = hashlib.sha256(b"sandbox-workspace\0" + caller.session_id.encode()).digest()
    return 10 ** 11 + int.from_bytes(digest[:8], "big") % (9 * 10 ** 11)


def common_config(state: SandboxState, caller: Caller, body: dict) -> dict:
    if body.get("scene") not in CONFIG_SCENES:
        raise bad(f"scene must be one of {list(CONFIG_SCENES)}")
    models = []
    for key, model in catalogue.VIDEO_MODELS.items():
        if caller.region not in model.regions or key in state.settings.removed_models:
            continue
        resolutions = sorted(model.resolutions, key=lambda r: int(r.rstrip("pk")) * (1000 if r.endswith("k") else 1))
        models.append({
            "model_req_key": key,
            "model_status": UNAVAILABLE_STATUS if model.vip and not is_vip(caller) else 0,
            "options": [{"key": "resolution", "enum_val": {"string_value": resolutions}, "forbidden_display": False}],
            "commercial_config": {"resolution_price_configs": [
                {"resolution": r, "price": {"benefit_type": model.benefit_for(r, False)}} for r in resolutions]},
        })
    return {"model_list": models}


def workspaces(caller: Caller) -> dict:
    if caller.region == "cn":
        return {"workspace_list": []}
    return {"workspace_list": [{"workspace_id": workspace_id(caller), "name": "default", "is_default": True}]}


def check_generate(state: SandboxState, caller: Caller, body: dict, draft: Draft) -> None:
    """The account-level refusals of a valid generate body."""
    if draft.kind == "video":
        if draft.model_key in state.settings.removed_models:
            raise Refusal(RET_MODEL_GONE, "model no longer available")
        if catalogue.VIDEO_MODELS[draft.model_key].vip and not is_vip(caller):
            raise Refusal(RET_NO_CREDIT_2026, "Not enough credits left (or no relevant benefits)")
    if caller.region != "cn":
        given = body["extend"].get("workspace_id")
        if str(given) != str(workspace_id(caller)) or isinstance(given, bool):
            raise bad(f"extend.workspace_id {given!r} is not a workspace of this account (see workspace/list)")
