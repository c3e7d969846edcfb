"""Bodies of `POST /mweb/v1/aigc_draft/generate` for video, one input builder per mode.

Facts from the protocol document, sections 3.2 and 3.3: the body skeleton, the draft frame that
every video mode shares, and per mode the `video_gen_inputs[0]` object and `metrics_extra`.
Sources per mode: first/last frames and omni reference follow iptag's current shapes, main
reference the browser capture, multi-frame L1. Where the browser and a client differ only in
analytics values, the browser's value is used and the line says so.

Everything random or time-based (ids, the clock, the seed) is injected so tests are exact.
"""
from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.errors import InvalidRequest
from app.jimeng.assets import Frame, Material, UploadedImage, UploadedVideo, VideoDraft
from app.jimeng.constants import DRAFT_VERSION, OMNI_MIN_VERSION, VIDEO_MIN_VERSION
from app.jimeng.models import FIRST_LAST, MAIN_REFERENCE, MULTI_FRAME, OMNI_REFERENCE

IdFactory = Callable[[], str]

# `video_mode` of every video input the browser was seen sending (text, first/last, main
# reference) and of iptag's omni input.
VIDEO_MODE = 2
# Multi-frame `video_mode`: open question 4 of the protocol document (current L1 sends 1, its
# earlier generator sent 2 and called it "the official value"; no browser capture exists). We send
# 2: every captured browser draft uses 2, and L1's switch to 1 came in a clean-up commit with no
# stated reason. Change it here if Jimeng answers multi-frame drafts with "invalid parameter".
MULTI_FRAME_VIDEO_MODE = 2

# `min_features` of the draft, per mode (3.3).
_MIN_FEATURES: dict[str, tuple[str, ...]] = {
    FIRST_LAST: (),
    MULTI_FRAME: ("AIGC_GenerateType_VideoMultiFrame",),
    MAIN_REFERENCE: ("AIGC_GenerateType_VideoIdipFrame",),
    OMNI_REFERENCE: ("AIGC_Video_UnifiedEdit",),
}

# The field names iptag's public API gives omni materials; an original file name equal to one of
# them is never registered as an alias (3.3 (b)).
OMNI_IMAGE_FIELDS = ("image_file", *(f"image_file_{i}" for i in range(1, 10)))
OMNI_VIDEO_FIELDS = ("video_file", *(f"video_file_{i}" for i in range(1, 4)))
_OMNI_FIELDS = frozenset(OMNI_IMAGE_FIELDS + OMNI_VIDEO_FIELDS)

# `[图N]` (0-based image index). The full-width form `【图N】` is what the `[` and `]` keys type
# in a Chinese input method, so a hand-typed reference often arrives that way; without it such a
# prompt would be refused, or, next to an ASCII reference, reach Jimeng as plain text.
_IMAGE_REF = re.compile(r"\[图([0-9]{1,3})\]|【图([0-9]{1,3})】")  # 3 digits: far past any image count

PromptPart = tuple[str, int | str]   # ("text", str) | ("image", int) | ("ref", field name)


def compact_json(obj: Any) -> str:
    """JSON the way the browser's `JSON.stringify` writes it: no spaces, insertion key order,
    non-ASCII left as is (protocol doc 0). The one serialisation: request bodies (the bytes a page
    script signs) and the JSON texts inside them."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _now_ms() -> int:
    return int(time.time() * 1000)


def _random_seed() -> int:
    # iptag: uniform over 0..4294967295 (the browser's seeds fall in the same range).
    return random.randrange(1 << 32)


# ---------------------------------------------------------------------------------------------
# Prompt parsing (exported: the service validates prompts with these before any upload)
# ---------------------------------------------------------------------------------------------

def parse_main_reference_prompt(prompt: str, image_count: int) -> list[PromptPart]:
    """Split a main-reference prompt into ("text", segment) and ("image", index) parts.

    Text segments are kept untrimmed and in prompt order, as the browser sends them; empty
    segments (between adjacent references, or at either end) are dropped. An index >= the image
    count, or a prompt with no reference at all, is a 400 on `prompt`.
    """
    parts: list[PromptPart] = []
    last = 0
    for match in _IMAGE_REF.finditer(prompt):
        index = int(match.group(1) or match.group(2))
        if index >= image_count:
            valid = f"[图0]..[图{image_count - 1}]" if image_count else "none"
            raise InvalidRequest(
                f"the prompt refers to {match.group(0)}, but {image_count} image(s) were given "
                f"(references are 0-based; valid: {valid})", param="prompt")
        if match.start() > last:
            parts.append(("text", prompt[last:match.start()]))
        parts.append(("image", index))
        last = match.end()
    if not any(kind == "image" for kind, _ in parts):
        raise InvalidRequest("main_reference needs at least one image reference in the prompt, "
                             "written [图0], [图1], ... (0-based)", param="prompt")
    if last < len(prompt):
        parts.append(("text", prompt[last:]))
    return parts


def omni_reference_names(materials: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The names a prompt may cite with `@`, each mapped to its material's field name.

    `materials` are (field name, original file name) pairs in material order. Field names always
    count; a file name counts as an alias unless it equals a field name (of any omni field, used
    or not) or an earlier alias: an alias never shadows a field name (iptag's rule).
    """
    pairs = list(materials)
    names = {field: field for field, _ in pairs}
    for field, alias in pairs:
        if alias and alias not in _OMNI_FIELDS and alias not in names:
            names[alias] = field
    return names


def parse_omni_prompt(prompt: str, names_and_aliases: Mapping[str, str]) -> list[PromptPart]:
    """Split an omni prompt into ("text", segment) and ("ref", field name) parts.

    `names_and_aliases` maps every citable name to its field name (see `omni_reference_names`).
    At each `@`, the longest name that follows wins. An `@` followed by no known name stays plain
    text, as iptag does (so a typo is not an error). Empty text segments are dropped; a prompt
    without references is one text part (even when empty).
    """
    names = sorted(names_and_aliases, key=len, reverse=True)
    parts: list[PromptPart] = []
    last = 0
    at = prompt.find("@")
    while at != -1:
        name = next((n for n in names if n and prompt.startswith(n, at + 1)), None)
        if name is None:
            at = prompt.find("@", at + 1)
            continue
        if at > last:
            parts.append(("text", prompt[last:at]))
        parts.append(("ref", names_and_aliases[name]))
        last = at + 1 + len(name)
        at = prompt.find("@", last)
    if last < len(prompt) or not parts:
        parts.append(("text", prompt[last:]))
    return parts


# ---------------------------------------------------------------------------------------------
# The body
# ---------------------------------------------------------------------------------------------

def build_video_generate_body(draft: VideoDraft, *, submit_id: str, new_id: IdFactory = _new_uuid,
                              now_ms: Callable[[], int] = _now_ms,
                              seed: Callable[[], int] = _random_seed,
                              workspace_id: int | str | None = None, origin_submit_id: str | None = None) -> dict:
    """The JSON body of `POST /mweb/v1/aigc_draft/generate` for one video task.

    `origin_submit_id` (default: the submit id) fills metrics `originSubmitId`, a UUID Jimeng stores
    with the record; idempotent submits put the request's body tag there.
    `draft` is validated and its media uploaded. `metrics_extra` and `draft_content` are JSON
    strings inside the body; keep the returned dict as is if the request may be re-sent.
    `workspace_id` (abroad) goes into `extend` after `root_model`, as the capture has it.
    """
    try:
        build_input = _INPUT_BUILDERS[draft.mode]
    except KeyError:
        raise ValueError(f"unknown video mode {draft.mode!r}") from None
    video_input, metrics = build_input(draft, origin_submit_id or submit_id, new_id)
    metrics_extra = compact_json(metrics)
    model = draft.model
    with_video = any(m.video is not None for m in draft.materials)
    commerce_info = {
        "benefit_type": model.benefit_for(draft.mode, draft.resolution, with_video=with_video),
        "resource_id": "generate_video",
        "resource_id_type": "str",
        "resource_sub_type": "aigc",
    }
    draft_min_version = OMNI_MIN_VERSION if draft.mode == OMNI_REFERENCE else VIDEO_MIN_VERSION
    component_id = new_id()
    draft_content = {
        "type": "draft",
        "id": new_id(),
        "min_version": draft_min_version,
        "min_features": list(_MIN_FEATURES[draft.mode]),
        "is_from_tsn": True,
        # Jimeng stores every draft as version 3.0.5 anyway; sent: the newest browser capture's.
        "version": DRAFT_VERSION,
        "main_component_id": component_id,
        "component_list": [{
            "type": "video_base_component",
            "id": component_id,
            "min_version": "1.0.0",
            "aigc_mode": "workbench",
            "metadata": {
                "type": "",
                "id": new_id(),
                "created_platform": 3,
                "created_platform_version": "",
                "created_time_in_ms": str(now_ms()),
                "created_did": "",
            },
            "generate_type": "gen_video",
            "abilities": {
                "type": "",
                "id": new_id(),
                "gen_video": {
                    "type": "",
                    "id": new_id(),
                    "text_to_video_params": {
                        "type": "",
                        "id": new_id(),
                        "video_gen_inputs": [video_input],
                        "video_aspect_ratio": draft.ratio,
                        "seed": seed(),
                        "model_req_key": model.req_key,
                        "priority": 0,
                    },
                    "video_task_extra": metrics_extra,
                },
            },
            "process_type": 1,
        }],
    }
    extend: dict[str, Any] = {"root_model": model.req_key}
    if workspace_id is not None:
        extend["workspace_id"] = workspace_id
    extend["m_video_commerce_info"] = commerce_info
    extend["m_video_commerce_info_list"] = [dict(commerce_info)]
    return {
        "extend": extend,
        "submit_id": submit_id,
        "metrics_extra": metrics_extra,
        "draft_content": compact_json(draft_content),
        "http_common_info": {"aid": draft.aid},
    }


# ---------------------------------------------------------------------------------------------
# Per-mode inputs: each returns (video_gen_inputs[0], metrics_extra object)
# ---------------------------------------------------------------------------------------------

def _first_last_input(draft: VideoDraft, submit_id: str, new_id: IdFactory) -> tuple[dict, dict]:
    """Text-to-video (0 images), first frame (1) or first + last frame (2): 3.3 (a)."""
    if len(draft.images) > 2:
        raise ValueError("first_last_frames takes at most 2 images")
    model = draft.model
    video_input = _input_head(draft, new_id, min_version=VIDEO_MIN_VERSION,
                              prompt=draft.prompt, video_mode=VIDEO_MODE,
                              duration_ms=draft.duration_s * 1000)
    if len(draft.images) >= 1:
        video_input["first_frame_image"] = image_object(draft.images[0], new_id, real_format=False)
    if len(draft.images) == 2:
        video_input["end_frame_image"] = image_object(draft.images[1], new_id, real_format=False)
    video_input["idip_meta_list"] = []
    # materialTypes: the browser sends one 1 per image ([1,1] in the fixture); iptag always [].
    scene = _scene_option(model.req_key, draft.duration_s,
                          draft.resolution if model.sends_resolution else None,
                          material_types=[1] * len(draft.images))
    metrics = {
        "promptSource": "custom",
        "isDefaultSeed": 1,
        # The browser sets originSubmitId = submit_id (fixture); iptag sends a second random uuid.
        "originSubmitId": submit_id,
        "isRegenerate": False,
        "enterFrom": "click",                 # browser (fixture); iptag: "use_bgimage_prompt"
        "position": "page_bottom_box",
        "functionMode": FIRST_LAST,
        "sceneOptions": compact_json([scene]),
    }
    return video_input, metrics


def _multi_frame_input(draft: VideoDraft, submit_id: str, new_id: IdFactory) -> tuple[dict, dict]:
    """Keyframes, each with an image, a prompt and a duration: 3.3 (c), L1's shape."""
    if not draft.frames:
        raise ValueError("multi_frame needs frames")
    video_input = _input_head(draft, new_id, min_version=VIDEO_MIN_VERSION, prompt="",
                              video_mode=MULTI_FRAME_VIDEO_MODE,
                              duration_ms=sum(f.duration_ms for f in draft.frames))
    video_input["multi_frames"] = [_keyframe(i, frame, new_id) for i, frame in enumerate(draft.frames)]
    # Every other input of every client carries it; L1's earlier multi-frame generator did too.
    video_input["idip_meta_list"] = []
    return video_input, _plain_metrics(submit_id, enter_from="result_click_reference", mode=MULTI_FRAME)


def _plain_metrics(submit_id: str, *, enter_from: str, mode: str) -> dict:
    """L1's metrics_extra for multi-frame and main reference: no sceneOptions, key order kept."""
    return {"isDefaultSeed": 1, "originSubmitId": submit_id, "isRegenerate": False, "enterFrom": enter_from,
            "functionMode": mode}


def _main_reference_input(draft: VideoDraft, submit_id: str, new_id: IdFactory) -> tuple[dict, dict]:
    """Subject images cited in the prompt as [图N]: 3.3 (d), the browser capture's shape."""
    parts = parse_main_reference_prompt(draft.prompt, len(draft.images))
    video_input = _input_head(draft, new_id, min_version=VIDEO_MIN_VERSION, prompt="",
                              video_mode=VIDEO_MODE, duration_ms=draft.duration_s * 1000)
    video_input["idip_frames"] = [image_object(img, new_id, real_format=False) for img in draft.images]
    meta_list = []
    for kind, value in parts:
        if kind == "text":
            meta_list.append({"type": "", "id": new_id(), "meta_type": "text", "text": value})
        else:
            meta_list.append({"type": "", "id": new_id(), "meta_type": "idip_frame", "text": "",
                              "frame_info": {"type": "", "id": new_id(), "image_idx": value}})
    video_input["idip_meta_list"] = meta_list
    return video_input, _plain_metrics(submit_id, enter_from="click", mode=MAIN_REFERENCE)


def _omni_input(draft: VideoDraft, submit_id: str, new_id: IdFactory) -> tuple[dict, dict]:
    """Images and videos cited in the prompt as @name: 3.3 (b), iptag's shape."""
    if not draft.materials:
        raise ValueError("omni_reference needs at least one material")
    index_of = {m.name: i for i, m in enumerate(draft.materials)}
    names = omni_reference_names((m.name, m.alias) for m in draft.materials)
    meta_list = []
    for kind, value in parse_omni_prompt(draft.prompt, names):
        if kind == "text":
            meta_list.append({"meta_type": "text", "text": value})
        else:
            material = draft.materials[index_of[value]]
            meta_list.append({"meta_type": "image" if material.image else "video", "text": "",
                              "material_ref": {"material_idx": index_of[value]}})
    # The prompt moves into meta_list; `resolution` only for the multi-resolution Seedance keys.
    video_input = _input_head(draft, new_id, min_version=OMNI_MIN_VERSION, prompt="",
                              video_mode=VIDEO_MODE, duration_ms=draft.duration_s * 1000)
    video_input["unified_edit_input"] = {
        "type": "",
        "id": new_id(),
        "material_list": [_material(m, new_id) for m in draft.materials],
        "meta_list": meta_list,
    }
    video_input["idip_meta_list"] = []
    scene = _scene_option(draft.model.req_key, draft.duration_s,
                          draft.resolution if draft.model.sends_resolution else None,
                          material_types=[1 if m.image else 2 for m in draft.materials])
    metrics = {
        "position": "page_bottom_box",
        "isDefaultSeed": 1,
        "originSubmitId": submit_id,
        "isRegenerate": False,
        "enterFrom": "click",
        "functionMode": OMNI_REFERENCE,
        "sceneOptions": compact_json([scene]),
    }
    return video_input, metrics


_INPUT_BUILDERS: dict[str, Callable[[VideoDraft, str, IdFactory], tuple[dict, dict]]] = {
    FIRST_LAST: _first_last_input,
    MULTI_FRAME: _multi_frame_input,
    MAIN_REFERENCE: _main_reference_input,
    OMNI_REFERENCE: _omni_input,
}


# ---------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------

def _input_head(draft: VideoDraft, new_id: IdFactory, *, min_version: str, prompt: str,
                video_mode: int, duration_ms: int) -> dict:
    """The keys every `video_gen_inputs[0]` starts with; `resolution` only for models that take
    it (vgfm 3.0 and 3.0-fast, protocol doc 3.1; the Seedance keys priced per resolution)."""
    head = {
        "type": "",
        "id": new_id(),
        "min_version": min_version,
        "prompt": prompt,
        "video_mode": video_mode,
        "fps": draft.fps,
        "duration_ms": duration_ms,
    }
    if draft.model.sends_resolution:
        head["resolution"] = draft.resolution
    return head


def image_object(image: UploadedImage, new_id: IdFactory, *, real_format: bool) -> dict:
    """An uploaded image as drafts cite it. Key order as the browser writes it. Real width and
    height (browser, L1); `format` is "" in the browser's first/last and main-reference drafts
    and the real one in iptag's omni and L1's multi-frame inputs."""
    return {
        "type": "image",
        "id": new_id(),
        "source_from": "upload",
        "platform_type": 1,
        "name": "",
        "image_uri": image.uri,
        "width": image.width,
        "height": image.height,
        "format": image.format if real_format else "",
        "uri": image.uri,
    }


def _keyframe(index: int, frame: Frame, new_id: IdFactory) -> dict:
    return {
        "type": "",
        "id": new_id(),
        "idx": index,                      # 0-based position of the keyframe (L1)
        "duration_ms": frame.duration_ms,
        "prompt": frame.prompt,
        "media_info": {
            "type": "",
            "id": new_id(),
            "media_type": 1,
            "image_info": image_object(frame.image, new_id, real_format=True),
        },
    }


def _material(material: Material, new_id: IdFactory) -> dict:
    if material.image is not None:
        return {"type": "", "id": new_id(), "material_type": "image",
                "image_info": image_object(material.image, new_id, real_format=True)}
    if material.video is not None:
        return {"type": "", "id": new_id(), "material_type": "video",
                "video_info": _video_object(material.video, new_id)}
    raise ValueError(f"material {material.name!r} has neither an image nor a video")


def _video_object(video: UploadedVideo, new_id: IdFactory) -> dict:
    return {
        "type": "video",
        "id": new_id(),
        "source_from": "upload",
        "name": "",
        "vid": video.vid,
        "fps": 0,
        "width": video.width,
        "height": video.height,
        "duration": video.duration_ms,
    }


def _scene_option(req_key: str, duration_s: int, resolution: str | None, *,
                  material_types: list[int]) -> dict:
    """The one element of `sceneOptions`. Key order as the browser writes it (fixture)."""
    scene: dict[str, Any] = {"type": "video", "scene": "BasicVideoGenerateButton"}
    if resolution:
        scene["resolution"] = resolution
    scene["modelReqKey"] = req_key
    scene["videoDuration"] = duration_s
    scene["reportParams"] = {
        "enterSource": "generate",
        "vipSource": "generate",
        "extraVipFunctionKey": f"{req_key}-{resolution}" if resolution else req_key,
        "useVipFunctionDetailsReporterHoc": True,
    }
    scene["materialTypes"] = material_types
    return scene
