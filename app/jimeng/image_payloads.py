"""Bodies of `POST /mweb/v1/aigc_draft/generate` for images: text to image ("generate") and
image to image ("blend").

Facts from protocol 6.3, corrected by the 2026 update 4.2 (which wins): the count is
`abilities.gen_option.gen_count` beside `generate_all: false`, on `abilities` (not inside
`generate` / `blend`); `core_param` carries `generate_type: 0` and always a `negative_prompt`;
`large_image_info` has no `min_version`; `metrics_extra` follows [DR]'s 2026-10 capture (no
`sceneOptions`). Each choice between sources is in docs/protocol.md ("Images").
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from app.jimeng.assets import ImageDraft
from app.jimeng.constants import BLEND_MIN_VERSION, IMAGE_DRAFT_VERSION, IMAGE_MIN_VERSION
from app.jimeng.payloads import IdFactory, _new_uuid, _now_ms, compact_json, image_object

GENERATE, BLEND = "generate", "blend"
# Component `gen_type` of [DB]'s CN browser capture (1 generate, 12 blend); [DR]'s abroad capture
# has none, so it is sent in CN only.
GEN_TYPE = {GENERATE: 1, BLEND: 12}


def _browser_seed() -> int:
    # [LJ] `efa3fed`, aligned with a browser capture: 1..2147483646.
    return random.randint(1, 2147483646)


def build_image_generate_body(draft: ImageDraft, *, submit_id: str, new_id: IdFactory = _new_uuid,
                              now_ms: Callable[[], int] = _now_ms, seed: Callable[[], int] = _browser_seed,
                              workspace_id: int | str | None = None, origin_submit_id: str | None = None) -> dict:
    """The JSON body for one image task of `draft.count` images (blend when it has references).

    `origin_submit_id` (an Idempotency-Key's body tag) becomes the draft's own id: a UUID the client
    chooses, which Jimeng stores with the record (image metrics carry no originSubmitId)."""
    if not 1 <= draft.count <= 8:
        raise ValueError("gen_count must be 1..8")
    mode = BLEND if draft.references else GENERATE
    key = draft.model.key_in(draft.region)
    width, height = draft.model.size(draft.ratio, draft.resolution)
    core: dict[str, Any] = {
        "type": "",
        "id": new_id(),
        "model": key,
        # Blend prompts start with "##" per reference image (iptag).
        "prompt": "##" * len(draft.references) + draft.prompt,
        "sample_strength": draft.sample_strength,
        "large_image_info": {"type": "", "id": new_id(), "height": height, "width": width,
                             "resolution_type": draft.resolution},
        "intelligent_ratio": False,
        "image_ratio": draft.model.ratio_code(draft.ratio, draft.resolution),
        "negative_prompt": draft.negative_prompt,
    }
    if mode == GENERATE:
        core["seed"] = seed()       # iptag seeds text to image only
    core["generate_type"] = 0
    abilities: dict[str, Any] = {"type": "", "id": new_id()}
    if mode == GENERATE:
        abilities[GENERATE] = {"type": "", "id": new_id(), "core_param": core}
    else:
        abilities[BLEND] = _blend(draft, core, new_id)
    abilities["gen_option"] = {"type": "", "id": new_id(), "generate_all": False, "gen_count": draft.count}
    component_id = new_id()
    component: dict[str, Any] = {
        "type": "image_base_component",
        "id": component_id,
        "min_version": IMAGE_MIN_VERSION,
        "aigc_mode": "workbench",
        "metadata": {"type": "", "id": new_id(), "created_platform": 3, "created_platform_version": "",
                     "created_time_in_ms": str(now_ms()), "created_did": ""},
        "generate_type": mode,
    }
    if draft.region == "cn":
        component["gen_type"] = GEN_TYPE[mode]
    component["abilities"] = abilities
    draft_content = {
        "type": "draft",
        "id": new_id(),
        "min_version": BLEND_MIN_VERSION if mode == BLEND else IMAGE_MIN_VERSION,
        "min_features": [],
        "is_from_tsn": True,
        "version": IMAGE_DRAFT_VERSION,
        "main_component_id": component_id,
        "component_list": [component],
    }
    if origin_submit_id is not None:
        draft_content["id"] = origin_submit_id
    metrics = {
        "promptSource": "custom",
        "generateCount": draft.count,        # statistics only ([MJ]); the count is gen_count
        "enterFrom": "click",
        "position": "page_bottom_box",
        "isBoxSelect": False,
        "isCutout": False,
        "hasRejectedAudit": 0,
        "generateId": submit_id,
        "isRegenerate": False,
    }
    extend: dict[str, Any] = {"root_model": key}
    if workspace_id is not None:
        extend["workspace_id"] = workspace_id
    return {
        "extend": extend,
        "submit_id": submit_id,
        "metrics_extra": compact_json(metrics),
        "draft_content": compact_json(draft_content),
        "http_common_info": {"aid": draft.aid},
    }


def _blend(draft: ImageDraft, core: dict, new_id: IdFactory) -> dict:
    """Protocol 6.3's blend ability: one `byte_edit` per reference image, in order."""
    blend: dict[str, Any] = {"type": "", "id": new_id()}
    if len(draft.references) >= 2:
        blend["min_version"] = BLEND_MIN_VERSION
    blend["min_features"] = []
    blend["core_param"] = core
    blend["ability_list"] = [
        {"type": "", "id": new_id(), "name": "byte_edit", "image_uri_list": [image.uri],
         "image_list": [image_object(image, new_id, real_format=False)], "strength": draft.sample_strength}
        for image in draft.references]
    blend["prompt_placeholder_info_list"] = [{"type": "", "id": new_id(), "ability_index": i}
                                             for i in range(len(draft.references))]
    blend["postedit_param"] = {"type": "", "id": new_id(), "generate_type": 0}
    return blend
