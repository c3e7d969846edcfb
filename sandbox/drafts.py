"""Validation of a generate body: the `extend`, `draft_content` and `metrics_extra` of protocol
3.2, 3.3 and 6.3, refused with ret 1000 "invalid parameter" and a message naming the problem
(the real server just says "invalid parameter", which is why L1 lost days to it, protocol 9)."""
from __future__ import annotations

import json
from dataclasses import dataclass

from sandbox import catalogue
from sandbox.checks import Caller
from sandbox.envelope import RET_INVALID_PARAMETER, Refusal
from sandbox.uploads import UploadDesk

FIRST_LAST, MULTI_FRAME, MAIN_REFERENCE, OMNI = ("first_last_frames", "multi_frame", "main_reference",
                                                 "omni_reference")
# min_features flag and the input key that carries each special mode's media (3.3 b-d).
MODE_MARKERS = {
    OMNI: ("AIGC_Video_UnifiedEdit", "unified_edit_input"),
    MULTI_FRAME: ("AIGC_GenerateType_VideoMultiFrame", "multi_frames"),
    MAIN_REFERENCE: ("AIGC_GenerateType_VideoIdipFrame", "idip_frames"),
}


@dataclass(frozen=True)
class Draft:
    """What the record life cycle needs from a validated generate body."""

    kind: str                       # "video" or "image"
    mode: str                       # a video mode, or "generate" / "blend" for images
    model_key: str
    duration_ms: int                # 0 for images
    texts: tuple[str, ...]          # every prompt text, where scenario directives are read
    input_uris: tuple[str, ...]     # uploaded images it cites
    count: int = 1                  # results it makes (images: gen_count)
    references: int = 0             # images: reference images of a blend


def bad(message: str) -> Refusal:
    return Refusal(RET_INVALID_PARAMETER, f"invalid parameter: {message}")


def read_generate(body: dict, caller: Caller, uploads: UploadDesk) -> Draft:
    """Validate one `aigc_draft/generate` body for `caller`; answer what it asks for."""
    submit_id = body.get("submit_id")
    if not isinstance(submit_id, str) or not submit_id:
        raise bad("submit_id must be a non-empty string")
    draft = _json_string(body, "draft_content")
    _json_string(body, "metrics_extra")
    extend = _dict(body.get("extend"), "extend")
    common = body.get("http_common_info")
    if common is not None and _dict(common, "http_common_info").get("aid") != caller.aid:
        raise bad(f"http_common_info.aid must be {caller.aid} (a number)")
    if draft.get("type") != "draft":
        raise bad('draft_content.type must be "draft"')
    component = _main_component(draft)
    reader = _Reader(caller, uploads)
    if component.get("type") == "video_base_component":
        return reader.video(draft, component, extend)
    if component.get("type") == "image_base_component":
        return reader.image(component, extend)
    raise bad("the main component must be a video_base_component or an image_base_component")


class _Reader:
    """Reads one draft, checking cited media against what this caller uploaded."""

    def __init__(self, caller: Caller, uploads: UploadDesk) -> None:
        self.caller, self.uploads = caller, uploads
        self.uris: list[str] = []

    # -- video ------------------------------------------------------------------------------
    def video(self, draft: dict, component: dict, extend: dict) -> Draft:
        if component.get("generate_type") != "gen_video":
            raise bad('a video component needs generate_type "gen_video"')
        params = _dig(component, "abilities", "gen_video", "text_to_video_params")
        key = params.get("model_req_key")
        model = catalogue.VIDEO_MODELS.get(key)
        if model is None:
            raise bad(f"unknown model_req_key {key!r}")
        if extend.get("root_model") != key:
            raise bad(f"extend.root_model {extend.get('root_model')!r} != model_req_key {key!r}")
        if self.caller.region not in model.regions:
            raise bad(f"model {key} is not offered in region {self.caller.region}")
        if params.get("video_aspect_ratio") not in catalogue.VIDEO_RATIOS:
            raise bad(f"video_aspect_ratio {params.get('video_aspect_ratio')!r} is not one of "
                      f"{sorted(catalogue.VIDEO_RATIOS)}")
        inputs = params.get("video_gen_inputs")
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise bad("video_gen_inputs must hold exactly one input object")
        given = inputs[0]
        duration_ms = given.get("duration_ms")
        if not isinstance(duration_ms, int) or isinstance(duration_ms, bool):
            raise bad("video_gen_inputs[0].duration_ms must be an integer")
        fps = given.get("fps")
        if not isinstance(fps, int) or isinstance(fps, bool) or fps not in model.frame_rates:
            raise bad(f"video_gen_inputs[0].fps {fps!r} is not one of {sorted(model.frame_rates)} for {key}")
        resolution = given.get("resolution", "720p")
        if resolution not in model.resolutions:
            raise bad(f"resolution {resolution!r} is not one of {sorted(model.resolutions)} for {key}")
        mode = _video_mode(draft, given)
        if mode == OMNI and not model.omni:
            raise bad(f"omni reference is only offered by the Seedance models, not {key}")
        with_video = mode == OMNI and any(isinstance(m, dict) and m.get("material_type") == "video"
                                          for m in _dig(given, "unified_edit_input").get("material_list") or [])
        _check_benefit(extend, model.benefit_for(resolution, with_video))
        if mode != MULTI_FRAME and duration_ms not in [s * 1000 for s in model.durations_s]:
            raise bad(f"duration_ms {duration_ms} is not allowed for {key} (seconds: {list(model.durations_s)})")
        read_mode = {FIRST_LAST: self._first_last_frames, MULTI_FRAME: self._multi_frame,
                     MAIN_REFERENCE: self._main_reference, OMNI: self._omni_reference}[mode]
        texts = [given.get("prompt", ""), *read_mode(given, duration_ms)]
        return Draft("video", mode, key, duration_ms, tuple(t for t in texts if isinstance(t, str)),
                     tuple(self.uris))

    def _first_last_frames(self, given: dict, duration_ms: int) -> list[str]:
        first, end = given.get("first_frame_image"), given.get("end_frame_image")
        if end is not None and first is None:
            raise bad("end_frame_image needs a first_frame_image")
        for name, ref in (("first_frame_image", first), ("end_frame_image", end)):
            if ref is not None:
                self._image(ref, name)
        return []

    def _multi_frame(self, given: dict, duration_ms: int) -> list[str]:
        if given.get("video_mode") not in (1, 2):   # 1 in current L1, 2 in its earlier code (open question 4)
            raise bad("multi-frame video_mode must be 1 or 2")
        frames = _list(given.get("multi_frames"), "multi_frames", *catalogue.MULTI_FRAME_COUNT)
        low, high = catalogue.MULTI_FRAME_MS
        total, texts = 0, []
        for i, frame in enumerate(frames):
            frame = _dict(frame, f"multi_frames[{i}]")
            ms = frame.get("duration_ms")
            if not isinstance(ms, int) or not low <= ms <= high:
                raise bad(f"multi_frames[{i}].duration_ms must be {low}..{high}, got {ms!r}")
            total += ms
            self._image(_dig(frame, "media_info", "image_info"), f"multi_frames[{i}].media_info.image_info")
            texts.append(frame.get("prompt", ""))
        if total > catalogue.MULTI_FRAME_TOTAL_MS:
            raise bad(f"multi_frames last {total} ms in all, more than {catalogue.MULTI_FRAME_TOTAL_MS}")
        if total != duration_ms:
            raise bad(f"duration_ms {duration_ms} != sum of multi_frames durations {total}")
        return texts

    def _main_reference(self, given: dict, duration_ms: int) -> list[str]:
        frames = _list(given.get("idip_frames"), "idip_frames", *catalogue.IDIP_FRAME_COUNT)
        for i, ref in enumerate(frames):
            self._image(ref, f"idip_frames[{i}]")
        metas = _list(given.get("idip_meta_list"), "idip_meta_list", 1, 1000)
        references, texts = 0, []
        for i, meta in enumerate(metas):
            meta = _dict(meta, f"idip_meta_list[{i}]")
            if meta.get("meta_type") == "idip_frame":
                index = _dig(meta, "frame_info").get("image_idx")
                if not isinstance(index, int) or not 0 <= index < len(frames):
                    raise bad(f"idip_meta_list[{i}] cites image_idx {index!r}, but there are {len(frames)} idip_frames")
                references += 1
            else:
                texts.append(meta.get("text", ""))
        if not references:
            raise bad("a main-reference prompt must cite at least one idip_frame")
        return texts

    def _omni_reference(self, given: dict, duration_ms: int) -> list[str]:
        edit = _dig(given, "unified_edit_input")
        materials = _list(edit.get("material_list"), "material_list", *catalogue.OMNI_MATERIALS)
        kinds, video_seconds = [], 0.0
        for i, material in enumerate(materials):
            material = _dict(material, f"material_list[{i}]")
            kind = material.get("material_type")
            if kind == "image":
                self._image(_dig(material, "image_info"), f"material_list[{i}].image_info")
            elif kind == "video":
                vid = _dig(material, "video_info").get("vid")
                video = self.uploads.video(self.caller.session_id, vid) if isinstance(vid, str) else None
                if video is None:
                    raise bad(f"material_list[{i}].video_info.vid {vid!r} was not uploaded by this session")
                video_seconds += video.duration_s
            else:
                raise bad(f"material_list[{i}].material_type must be image or video")
            kinds.append(kind)
        if kinds.count("image") > catalogue.OMNI_MAX_IMAGES or kinds.count("video") > catalogue.OMNI_MAX_VIDEOS:
            raise bad(f"omni reference takes at most {catalogue.OMNI_MAX_IMAGES} images and "
                      f"{catalogue.OMNI_MAX_VIDEOS} videos")
        if video_seconds > catalogue.OMNI_MAX_VIDEO_SECONDS:
            raise bad(f"reference videos last {video_seconds:.2f} s in all, more than "
                      f"{catalogue.OMNI_MAX_VIDEO_SECONDS:.0f} s")
        texts = []
        for i, meta in enumerate(_list(edit.get("meta_list"), "meta_list", 0, 1000)):
            meta = _dict(meta, f"meta_list[{i}]")
            if "material_ref" not in meta:
                texts.append(meta.get("text", ""))
                continue
            index = _dig(meta, "material_ref").get("material_idx")
            if not isinstance(index, int) or not 0 <= index < len(kinds):
                raise bad(f"meta_list[{i}] cites material_idx {index!r}, but there are {len(kinds)} materials")
            if meta.get("meta_type") != kinds[index]:
                raise bad(f"meta_list[{i}] is meta_type {meta.get('meta_type')!r} but material {index} is a "
                          f"{kinds[index]}")
        return texts

    # -- image ------------------------------------------------------------------------------
    def image(self, component: dict, extend: dict) -> Draft:
        mode = component.get("generate_type")
        abilities = _dig(component, "abilities")
        if mode not in ("generate", "blend"):
            raise bad('an image component needs generate_type "generate" or "blend"')
        # [DB]'s CN capture: gen_type 1 (generate) / 12 (blend); [DR]'s abroad capture has none.
        if "gen_type" in component and component["gen_type"] != {"generate": 1, "blend": 12}[mode]:
            raise bad(f"component gen_type {component['gen_type']!r} does not match generate_type {mode!r}")
        ability = _dig(abilities, mode)
        if "gen_option" in ability:
            raise bad(f"gen_option belongs on abilities (beside {mode}), not inside abilities.{mode}")
        count = _gen_count(abilities)
        core = _dig(ability, "core_param")
        references = 0
        if mode == "blend":
            listed = _list(ability.get("ability_list"), "blend.ability_list", 1, catalogue.MAX_BLEND_IMAGES)
            for i, entry in enumerate(listed):
                images = _list(_dict(entry, f"ability_list[{i}]").get("image_list"),
                               f"ability_list[{i}].image_list", 1, 1)
                self._image(images[0], f"ability_list[{i}].image_list[0]")
            placeholders = _list(ability.get("prompt_placeholder_info_list"), "blend.prompt_placeholder_info_list",
                                 len(listed), len(listed))
            if [_dict(p, "prompt_placeholder_info_list[]").get("ability_index") for p in placeholders] != \
                    list(range(len(listed))):
                raise bad("prompt_placeholder_info_list must cite ability_index 0.. in order, one per ability")
            if "image_ratio" not in core:
                raise bad("a blend core_param needs image_ratio")
            references = len(listed)
        key = core.get("model")
        model = catalogue.IMAGE_MODELS.get(key)
        if model is None:
            raise bad(f"unknown image model {key!r}")
        if extend.get("root_model") != key:
            raise bad(f"extend.root_model {extend.get('root_model')!r} != core_param.model {key!r}")
        if self.caller.region not in model.regions:
            raise bad(f"image model {key} is not offered in region {self.caller.region}")
        for name in ("prompt", "negative_prompt"):
            if not isinstance(core.get(name), str):
                raise bad(f"core_param.{name} must be a string")
        _check_image_size(core, key, model, mode)
        return Draft("image", mode, key, 0, (core["prompt"],), tuple(self.uris), count=count,
                     references=references)

    # -- shared -----------------------------------------------------------------------------
    def _image(self, ref: object, where: str) -> None:
        """An image reference must name an ImageX URI this session uploaded and committed."""
        ref = _dict(ref, where)
        uri = ref.get("image_uri")
        if ref.get("type", "image") != "image":
            raise bad(f'{where}.type must be "image"')
        if "uri" in ref and ref["uri"] != uri:
            raise bad(f"{where}.uri != {where}.image_uri")
        if not isinstance(uri, str) or self.uploads.image(self.caller.session_id, uri) is None:
            raise bad(f"{where}.image_uri {uri!r} was not uploaded by this session")
        self.uris.append(uri)


def _gen_count(abilities: dict) -> int:
    """abilities.gen_option: `generate_all` false, `gen_count` 1..8; without a count, 4 images."""
    option = _dig(abilities, "gen_option")
    if option.get("generate_all") is not False:
        raise bad("gen_option.generate_all must be false")
    if "gen_count" not in option:
        return catalogue.IMAGES_WITHOUT_COUNT
    count, (low, high) = option["gen_count"], catalogue.GEN_COUNT
    if not isinstance(count, int) or isinstance(count, bool) or not low <= count <= high:
        raise bad(f"gen_option.gen_count must be an integer {low}..{high}, got {count!r}")
    return count


def _check_image_size(core: dict, key: str, model: catalogue.ImageModel, mode: str) -> None:
    """resolution_type offered by the model, a width x height of that resolution (the size table),
    and a known image_ratio code of the right resolution whose shape the size has. Text to image may
    leave image_ratio out only with intelligent_ratio on a model where it takes effect (6.2, 6.3)."""
    size = _dig(core, "large_image_info")
    for name in ("width", "height"):
        if not isinstance(size.get(name), int) or isinstance(size.get(name), bool) or size[name] <= 0:
            raise bad(f"large_image_info.{name} must be a positive integer")
    resolution = size.get("resolution_type")
    if resolution not in model.resolutions:
        raise bad(f"resolution_type {resolution!r} is not one of {sorted(model.resolutions)} for {key}")
    _check_size_of_resolution(size["width"], size["height"], resolution, model)
    if "image_ratio" not in core:
        if mode == "generate" and core.get("intelligent_ratio") is True and model.intelligent_ratio:
            return          # the server picks the ratio (6.3)
        raise bad(f"core_param.image_ratio is required for {key}: intelligent_ratio only stands in for it in "
                  f"text to image with the 4.0/4.1/4.5/4.6/5.0 models, when true")
    code = core["image_ratio"]
    high_codes = resolution == "4k" and not model.own_4k_sizes
    base = code - 100 if high_codes and isinstance(code, int) else code
    if isinstance(code, bool) or base not in catalogue.IMAGE_RATIO_CODES:
        expected = "101..108" if high_codes else "1..8"
        raise bad(f"image_ratio {code!r} is not a ratio code of {key} at {resolution} ({expected})")
    w, h = catalogue.IMAGE_RATIO_CODES[base]
    if abs(size["width"] / size["height"] / (w / h) - 1) > catalogue.RATIO_TOLERANCE:
        raise bad(f"large_image_info {size['width']}x{size['height']} is not the {w}:{h} of image_ratio {code}")


def _check_size_of_resolution(width: int, height: int, resolution: str, model: catalogue.ImageModel) -> None:
    """The size must be one the size table gives this resolution (the model's own at 4k where it has
    them); at 1k and 1.5k, any size within the listed sizes' pixel range (the server normalises)."""
    listed = catalogue.OWN_4K_SIZES if resolution == "4k" and model.own_4k_sizes else \
        catalogue.IMAGE_SIZES[resolution]
    if (width, height) in listed:
        return
    if resolution in catalogue.NORMALISED_RESOLUTIONS:
        low, high = min(w * h for w, h in listed), max(w * h for w, h in listed)
        if low <= width * height <= high:
            return
        raise bad(f"large_image_info {width}x{height} is not a {resolution} size ({low}..{high} pixels)")
    raise bad(f"large_image_info {width}x{height} is not a {resolution} size (one of "
              f"{', '.join(f'{w}x{h}' for w, h in sorted(listed))})")


def _video_mode(draft: dict, given: dict) -> str:
    features = draft.get("min_features") or []
    if not isinstance(features, list):
        raise bad("min_features must be a list")
    found = [mode for mode, (flag, key) in MODE_MARKERS.items() if flag in features or given.get(key)]
    if len(found) > 1:
        raise bad(f"the draft mixes modes {found}")
    if not found:
        return FIRST_LAST
    flag, key = MODE_MARKERS[found[0]]
    if flag not in features:
        raise bad(f"a {found[0]} draft needs min_features [{flag!r}]")
    if not given.get(key):
        raise bad(f"min_features says {found[0]} but video_gen_inputs[0].{key} is missing")
    return found[0]


def _check_benefit(extend: dict, benefit: str) -> None:
    listed = extend.get("m_video_commerce_info_list", [])
    if not isinstance(listed, list):
        raise bad("extend.m_video_commerce_info_list must be a list")
    infos = [_dict(extend.get("m_video_commerce_info"), "extend.m_video_commerce_info"), *listed]
    for info in infos:
        if not isinstance(info, dict) or info.get("benefit_type") != benefit:
            got = info.get("benefit_type") if isinstance(info, dict) else info
            raise bad(f"benefit_type {got!r} does not match the model and mode (expected {benefit!r})")


def _main_component(draft: dict) -> dict:
    components = draft.get("component_list")
    if not isinstance(components, list) or not components:
        raise bad("draft_content.component_list must be a non-empty list")
    main_id = draft.get("main_component_id")
    for component in components:
        if isinstance(component, dict) and component.get("id") == main_id:
            return component
    raise bad("draft_content.main_component_id names no component in component_list")


def _json_string(body: dict, name: str) -> dict:
    raw = body.get(name)
    if not isinstance(raw, str):
        raise bad(f"{name} must be a JSON object encoded as a string")
    try:
        value = json.loads(raw)
    except ValueError:
        raise bad(f"{name} is not valid JSON") from None
    return _dict(value, name)


def _dict(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise bad(f"{where} must be an object")
    return value


def _list(value: object, where: str, low: int, high: int) -> list:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise bad(f"{where} must be a list of {low}..{high} entries")
    return value


def _dig(value: dict, *path: str) -> dict:
    where = []
    for key in path:
        where.append(key)
        value = _dict(value.get(key), ".".join(where))
    return value
