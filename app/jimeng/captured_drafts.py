"""A captured generate body read back into the draft our payload builders take, so the capture diff
can build our own body for the same task (same model, mode, ratio, duration, media).

Reads what the builders write (app/jimeng/payloads.py, image_payloads.py); a draft it cannot read
is reported with the reason, never guessed.
"""
from __future__ import annotations

import json
from typing import Any

from app.jimeng.assets import ImageDraft, Material, UploadedImage, UploadedVideo, VideoDraft
from app.jimeng.models import (FIRST_LAST, IMAGE_MODELS_BY_KEY, IMAGE_RATIO_CODES, OMNI_REFERENCE,
                               VIDEO_MODELS_BY_KEY)
from app.jimeng.payloads import OMNI_IMAGE_FIELDS, OMNI_VIDEO_FIELDS
from app.jimeng.regions import REGIONS

_MODES_BY_FEATURE = {"AIGC_Video_UnifiedEdit": OMNI_REFERENCE, "AIGC_GenerateType_VideoMultiFrame": "multi_frame",
                     "AIGC_GenerateType_VideoIdipFrame": "main_reference"}
_RATIOS_BY_CODE = {code: ratio for ratio, code in IMAGE_RATIO_CODES.items()}


class Unreadable(ValueError):
    """The captured body is not a draft we can build again; the message says why."""


def read_generate(body: Any, region: str) -> tuple[str, VideoDraft | ImageDraft, Any]:
    """(kind, draft, workspace id or None) of a captured `aigc_draft/generate` body."""
    if not isinstance(body, dict):
        raise Unreadable("the generate body is not a JSON object")
    extend = body.get("extend") if isinstance(body.get("extend"), dict) else {}
    draft = _json(body.get("draft_content"), "draft_content")
    components = draft.get("component_list") if isinstance(draft.get("component_list"), list) else []
    main = next((c for c in components if isinstance(c, dict) and c.get("id") == draft.get("main_component_id")),
                components[0] if components else None)
    if not isinstance(main, dict):
        raise Unreadable("draft_content has no component")
    aid = _dig(body, "http_common_info", "aid")
    aid = aid if isinstance(aid, int) and not isinstance(aid, bool) else REGIONS[region].aid
    if main.get("type") == "video_base_component":
        return "video", _video(extend, draft, main, aid), extend.get("workspace_id")
    if main.get("type") == "image_base_component":
        return "image", _image(extend, main, region, aid), extend.get("workspace_id")
    raise Unreadable(f"the main component is a {main.get('type')!r}, neither a video nor an image draft")


def _video(extend: dict, draft: dict, component: dict, aid: int) -> VideoDraft:
    key = str(extend.get("root_model") or "")
    model = VIDEO_MODELS_BY_KEY.get(key)
    if model is None:
        raise Unreadable(f"the video model key {key!r} is not one of ours; if Jimeng renamed one of our models' "
                         f"keys to it, set JIMENG_MODEL_KEYS=<our model name>={key}")
    features = draft.get("min_features") if isinstance(draft.get("min_features"), list) else []
    mode = next((_MODES_BY_FEATURE[f] for f in features if f in _MODES_BY_FEATURE), FIRST_LAST)
    params = _dig(component, "abilities", "gen_video", "text_to_video_params") or {}
    inputs = params.get("video_gen_inputs") if isinstance(params, dict) else None
    first = inputs[0] if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict) else {}
    duration_ms = first.get("duration_ms")
    if not isinstance(duration_ms, int) or isinstance(duration_ms, bool):
        raise Unreadable("video_gen_inputs[0].duration_ms is missing")
    common = dict(model=model, mode=mode, ratio=str(params.get("video_aspect_ratio") or "1:1"),
                  duration_s=max(round(duration_ms / 1000), 1),
                  resolution=str(first.get("resolution") or model.resolutions[0]), aid=aid)
    if mode == FIRST_LAST:
        images = tuple(_image_object(first[name]) for name in ("first_frame_image", "end_frame_image")
                       if isinstance(first.get(name), dict))
        return VideoDraft(prompt=str(first.get("prompt") or ""), images=images, **common)
    if mode == OMNI_REFERENCE:
        return _omni(first, common)
    raise Unreadable(f"{mode} drafts are not compared yet (first/last frames and omni reference are)")


def _omni(first: dict, common: dict) -> VideoDraft:
    edit = first.get("unified_edit_input") if isinstance(first.get("unified_edit_input"), dict) else {}
    materials, images, videos = [], iter(OMNI_IMAGE_FIELDS[1:]), iter(OMNI_VIDEO_FIELDS[1:])
    for entry in edit.get("material_list") or []:
        if not isinstance(entry, dict):
            continue
        try:
            if isinstance(entry.get("image_info"), dict):
                materials.append(Material(name=next(images), image=_image_object(entry["image_info"])))
            elif isinstance(entry.get("video_info"), dict):
                video = entry["video_info"]
                materials.append(Material(name=next(videos), video=UploadedVideo(
                    vid=str(video.get("vid") or ""), width=_int(video.get("width")), height=_int(video.get("height")),
                    duration_ms=_int(video.get("duration")))))
        except StopIteration:
            raise Unreadable("the omni draft has more materials than a submit takes") from None
    if not materials:
        raise Unreadable("the omni draft has no material")
    prompt = ""
    for meta in edit.get("meta_list") or []:
        if not isinstance(meta, dict):
            continue
        index = _dig(meta, "material_ref", "material_idx")
        if isinstance(index, int) and 0 <= index < len(materials):
            prompt += "@" + materials[index].name
        else:
            prompt += str(meta.get("text") or "")
    return VideoDraft(prompt=prompt, materials=tuple(materials), **common)


def _image(extend: dict, component: dict, region: str, aid: int) -> ImageDraft:
    abilities = component.get("abilities") if isinstance(component.get("abilities"), dict) else {}
    ability = abilities.get("generate") or abilities.get("blend")
    core = ability.get("core_param") if isinstance(ability, dict) else None
    if not isinstance(core, dict):
        raise Unreadable("the image draft has no core_param")
    key = str(core.get("model") or extend.get("root_model") or "")
    model = IMAGE_MODELS_BY_KEY.get(key)
    if model is None:
        raise Unreadable(f"the image model key {key!r} is not one of ours")
    code = core.get("image_ratio")
    ratio = _RATIOS_BY_CODE.get(code % 100 if isinstance(code, int) else 1, "1:1")
    resolution = str(_dig(core, "large_image_info", "resolution_type") or model.default_resolution)
    references = ()
    if isinstance(abilities.get("blend"), dict):
        references = tuple(_image_object(image) for entry in abilities["blend"].get("ability_list") or []
                           if isinstance(entry, dict) for image in entry.get("image_list") or []
                           if isinstance(image, dict))
    count = _dig(abilities, "gen_option", "gen_count")
    prompt = str(core.get("prompt") or "")
    if references and prompt.startswith("##" * len(references)):
        prompt = prompt[2 * len(references):]
    strength = core.get("sample_strength")
    return ImageDraft(model=model, region=region, prompt=prompt, ratio=ratio,
                      resolution=resolution if resolution in model.resolutions else model.default_resolution,
                      count=count if isinstance(count, int) and 1 <= count <= 8 else 4,
                      negative_prompt=str(core.get("negative_prompt") or ""),
                      sample_strength=float(strength) if isinstance(strength, (int, float)) else 0.5,
                      references=references, aid=aid)


def _image_object(obj: dict) -> UploadedImage:
    return UploadedImage(uri=str(obj.get("image_uri") or obj.get("uri") or ""), width=_int(obj.get("width")),
                         height=_int(obj.get("height")), format=str(obj.get("format") or ""))


def _json(value: Any, name: str) -> dict:
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except RecursionError:
        raise Unreadable(f"{name} is nested too deep to read") from None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise Unreadable(f"{name} is not a JSON object (as a string)")
    return parsed


def _dig(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
