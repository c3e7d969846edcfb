"""The generate bodies per video mode, against golden files of the exact upstream body and against
a real browser draft (tests/fixtures, vendored from the project's upstream samples)."""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from app.errors import InvalidRequest
from app.jimeng.assets import Frame, Material, UploadedImage, UploadedVideo, VideoDraft
from app.jimeng.models import (FIRST_LAST, MAIN_REFERENCE, MULTI_FRAME, OMNI_REFERENCE, VIDEO_MODELS)
from app.jimeng.payloads import (MULTI_FRAME_VIDEO_MODE, build_video_generate_body, compact_json,
                                 omni_reference_names, parse_main_reference_prompt, parse_omni_prompt)
from tests.conftest import load_fixture

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Fields that travel as JSON strings inside JSON (protocol doc 0).
JSON_STRING_FIELDS = ("draft_content", "metrics_extra", "video_task_extra", "sceneOptions")

NOW_MS = 1770798305664
SEED = 3550643144

# ---------------------------------------------------------------------------------------------
# Canonical inputs, one per mode
# ---------------------------------------------------------------------------------------------

# first/last: the inputs of the real browser record in the fixture (vgfm 3.0, two frames).
FIXTURE_SUBMIT_ID = "f48347a1-0864-4ea4-890e-95db15821321"
FIRST_LAST_DRAFT = VideoDraft(
    model=VIDEO_MODELS["jimeng-video-3.0"], mode=FIRST_LAST, prompt="生成一个拜年视频", ratio="1:1",
    duration_s=5, resolution="720p",
    images=(UploadedImage("tos-cn-i-tb4s082cfz/409b27a6e6704a46a91596435fa74c5f", 682, 708, "png"),
            UploadedImage("tos-cn-i-tb4s082cfz/cd76d56859594ca7b8b456491a0a6009", 549, 613, "png")),
)

# main reference: the inputs of the browser capture (protocol doc 3.3 (d)).
MAIN_REFERENCE_DRAFT = VideoDraft(
    model=VIDEO_MODELS["jimeng-video-3.0"], mode=MAIN_REFERENCE, prompt="[图0] 中的猫在[图1]的地板上跑",
    ratio="3:4", duration_s=5, resolution="720p",
    images=(UploadedImage("tos-cn-i-tb4s082cfz/431b44ceecb2482bb502611777b34d47", 2048, 2048, "jpeg"),
            UploadedImage("tos-cn-i-tb4s082cfz/5e2a2e22811741afa7fb7a54e1a83eb2", 1728, 2304, "jpeg")),
)

MULTI_FRAME_DRAFT = VideoDraft(
    model=VIDEO_MODELS["jimeng-video-3.0"], mode=MULTI_FRAME, prompt="", ratio="16:9", duration_s=5,
    resolution="720p",
    frames=(Frame(UploadedImage("tos-cn-i-tb4s082cfz/00000000000000000000000000000001", 1280, 720, "png"),
                  "镜头缓缓推进", 2000),
            Frame(UploadedImage("tos-cn-i-tb4s082cfz/00000000000000000000000000000002", 1280, 720, "jpeg"),
                  "人物转身走向窗边", 3000),
            Frame(UploadedImage("tos-cn-i-tb4s082cfz/00000000000000000000000000000003", 1280, 720, "webp"),
                  "last frame prompt (no effect upstream)", 2500)),
)

OMNI_DRAFT = VideoDraft(
    model=VIDEO_MODELS["jimeng-video-seedance-2.0"], mode=OMNI_REFERENCE,
    prompt="@image_file_1作为首帧，@image_file_2作为尾帧，运动动作模仿@dance.mp4", ratio="16:9",
    duration_s=5,
    materials=(
        Material("image_file_1", image=UploadedImage("tos-cn-i-tb4s082cfz/0000000000000000000000000000000a",
                                                     1024, 1024, "png"), alias="cat.png"),
        Material("image_file_2", image=UploadedImage("tos-cn-i-tb4s082cfz/0000000000000000000000000000000b",
                                                     720, 1280, "jpeg")),
        Material("video_file", video=UploadedVideo("v0d399g10004d0example0000000000", 720, 1280, 4000),
                 alias="dance.mp4"),
    ),
)

# One body per new Seedance family (2026 update 4.1): (draft, submit id).
SEEDANCE_25_DRAFT = VideoDraft(model=VIDEO_MODELS["jimeng-video-seedance-2.5"], mode=FIRST_LAST,
                               prompt="海边日落，镜头缓缓拉远", ratio="16:9", duration_s=8, resolution="1080p")
FAMILIES = {
    "seedance_2.5_text": (SEEDANCE_25_DRAFT, "2a5e0000-0000-4000-8000-000000000025"),
    "seedance_2.0_vip_omni": (replace(OMNI_DRAFT, model=VIDEO_MODELS["jimeng-video-seedance-2.0-vip"],
                                      resolution="1080p"), "2a5e0000-0000-4000-8000-000000000020"),
    "seedance_2.0_mini_text": (replace(SEEDANCE_25_DRAFT, model=VIDEO_MODELS["jimeng-video-seedance-2.0-mini"],
                                       resolution="720p", duration_s=5), "2a5e0000-0000-4000-8000-000000000040"),
}

CANONICAL = {
    FIRST_LAST: (FIRST_LAST_DRAFT, FIXTURE_SUBMIT_ID),
    MULTI_FRAME: (MULTI_FRAME_DRAFT, "5b8a1c1e-3a0c-4a55-9d1e-8f3e2c7b6a01"),
    MAIN_REFERENCE: (MAIN_REFERENCE_DRAFT, "8f0fee63-148c-4984-874f-7d9cccad4c9f"),
    OMNI_REFERENCE: (OMNI_DRAFT, "0c9e7d2a-6f41-4b8e-a3d5-1e2f3a4b5c6d"),
}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def counting_ids():
    """A deterministic id factory: uuid-shaped, all distinct."""
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def build(draft: VideoDraft, submit_id: str = "11111111-2222-4333-8444-555555555555") -> dict:
    return build_video_generate_body(draft, submit_id=submit_id, new_id=counting_ids(),
                                     now_ms=lambda: NOW_MS, seed=lambda: SEED)


def expand(obj):
    """The body with every JSON-in-JSON string parsed back into an object (for reading)."""
    if isinstance(obj, dict):
        return {k: expand(json.loads(v) if k in JSON_STRING_FIELDS and isinstance(v, str) else v)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [expand(v) for v in obj]
    return obj


def normalise(obj, named: dict[str, str]):
    """uuid-shaped values -> "<uuid>" (or their name in `named`), times -> "<ms>"."""
    if isinstance(obj, dict):
        return {k: "<ms>" if k == "created_time_in_ms" else normalise(v, named) for k, v in obj.items()}
    if isinstance(obj, list):
        return [normalise(v, named) for v in obj]
    if isinstance(obj, str) and UUID.match(obj):
        return named.get(obj, "<uuid>")
    return obj


def readable(body: dict, submit_id: str) -> dict:
    """The form golden files are kept in."""
    expanded = expand(body)
    component_id = expanded["draft_content"]["main_component_id"]
    return normalise(expanded, {submit_id: "<submit_id>", component_id: "<component_id>"})


def video_input(body: dict) -> dict:
    return params(body)["video_gen_inputs"][0]


def params(body: dict) -> dict:
    draft = json.loads(body["draft_content"])
    return draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]


def scene_option(body: dict) -> dict:
    return json.loads(json.loads(body["metrics_extra"])["sceneOptions"])[0]


def uuids_in(obj) -> list[str]:
    if isinstance(obj, dict):
        return [u for v in obj.values() for u in uuids_in(v)]
    if isinstance(obj, list):
        return [u for v in obj for u in uuids_in(v)]
    return [obj] if isinstance(obj, str) and UUID.match(obj) else []


# ---------------------------------------------------------------------------------------------
# Golden bodies
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", list(CANONICAL))
def test_body_matches_golden_file(mode):
    draft, submit_id = CANONICAL[mode]
    golden = json.loads((GOLDEN_DIR / f"{mode}.json").read_text(encoding="utf-8"))

    body = build(draft, submit_id)

    assert readable(body, submit_id) == golden


@pytest.mark.parametrize("family", list(FAMILIES))
def test_new_seedance_family_body_matches_golden_file(family):
    draft, submit_id = FAMILIES[family]
    golden = json.loads((GOLDEN_DIR / f"{family}.json").read_text(encoding="utf-8"))

    assert readable(build(draft, submit_id), submit_id) == golden


@pytest.mark.parametrize("name, resolution, with_video, benefit", [
    ("jimeng-video-seedance-2.5", "480p", False, "seedance_25_480p_output"),
    ("jimeng-video-seedance-2.5", "720p", True, "seedance_25_720p_output"),
    ("jimeng-video-seedance-2.0", "720p", False, "dreamina_video_seedance_20_pro"),
    ("jimeng-video-seedance-2.0", "720p", True, "dreamina_video_seedance_20_pro_with_video"),
    ("jimeng-video-seedance-2.0-fast", "720p", True, "dreamina_seedance_20_fast_with_video"),
    ("jimeng-video-seedance-2.0-vip", "4k", False, "seedance_20_pro_4k_output"),
    ("jimeng-video-seedance-2.0-fast-vip", "720p", True, "seedance_20_fast_720p_output"),
    ("jimeng-video-seedance-2.0-mini", "720p", False, "seedance_20_mini_720p_output"),
])
def test_omni_benefit_follows_model_resolution_and_video_material(name, resolution, with_video, benefit):
    materials = OMNI_DRAFT.materials if with_video else OMNI_DRAFT.materials[:2]
    mode = OMNI_REFERENCE if name != "jimeng-video-seedance-2.0-mini" else FIRST_LAST
    draft = replace(OMNI_DRAFT, model=VIDEO_MODELS[name], resolution=resolution, mode=mode,
                    materials=materials if mode == OMNI_REFERENCE else ())
    if mode == FIRST_LAST:
        draft = replace(draft, prompt="a cat")

    extend = build(draft)["extend"]

    assert extend["m_video_commerce_info"]["benefit_type"] == benefit
    assert extend["m_video_commerce_info_list"][0]["benefit_type"] == benefit


def test_live_benefit_overrides_the_static_template():
    model = replace(VIDEO_MODELS["jimeng-video-seedance-2.5"], live_benefits=(("720p", "seedance_25_720p_v2"),))

    extend = build(replace(SEEDANCE_25_DRAFT, model=model, resolution="720p"))["extend"]

    assert extend["m_video_commerce_info"]["benefit_type"] == "seedance_25_720p_v2"


@pytest.mark.parametrize("mode", list(CANONICAL))
def test_every_object_gets_a_fresh_id(mode):
    draft, submit_id = CANONICAL[mode]

    body = expand(build(draft, submit_id))

    component = body["draft_content"]["component_list"][0]
    assert body["draft_content"]["main_component_id"] == component["id"]
    ids = uuids_in(body["draft_content"]["component_list"]) + [body["draft_content"]["id"]]
    ids = [i for i in ids if i != submit_id]          # originSubmitId inside video_task_extra
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("mode", list(CANONICAL))
def test_json_in_json_fields_are_compact_strings_that_round_trip(mode):
    draft, submit_id = CANONICAL[mode]

    body = build(draft, submit_id)

    for text in (body["draft_content"], body["metrics_extra"]):
        assert isinstance(text, str)
        assert compact_json(json.loads(text)) == text
        assert "\\u" not in text                       # non-ASCII is left unescaped
    assert "生成" in build(FIRST_LAST_DRAFT)["draft_content"]


@pytest.mark.parametrize("mode", list(CANONICAL))
def test_video_task_extra_is_the_metrics_extra_string(mode):
    draft, submit_id = CANONICAL[mode]

    body = build(draft, submit_id)

    gen_video = json.loads(body["draft_content"])["component_list"][0]["abilities"]["gen_video"]
    assert gen_video["video_task_extra"] == body["metrics_extra"]


@pytest.mark.parametrize("mode", list(CANONICAL))
def test_origin_submit_id_is_the_submit_id(mode):
    draft, submit_id = CANONICAL[mode]

    body = build(draft, submit_id)

    assert body["submit_id"] == submit_id
    assert json.loads(body["metrics_extra"])["originSubmitId"] == submit_id


def test_clock_and_seed_are_the_injected_ones():
    body = build(FIRST_LAST_DRAFT)

    draft = json.loads(body["draft_content"])
    assert draft["component_list"][0]["metadata"]["created_time_in_ms"] == str(NOW_MS)
    assert params(body)["seed"] == SEED


def test_default_generators_give_uuid4_ids_a_current_time_and_a_32_bit_seed():
    body = build_video_generate_body(FIRST_LAST_DRAFT, submit_id="s")

    draft = json.loads(body["draft_content"])
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", draft["id"])
    assert int(draft["component_list"][0]["metadata"]["created_time_in_ms"]) > NOW_MS
    assert 0 <= params(body)["seed"] < 2 ** 32


def test_aid_and_benefit_come_from_the_draft_and_model():
    draft = replace(OMNI_DRAFT, aid=513641)

    body = build(draft)

    assert body["http_common_info"] == {"aid": 513641}
    assert body["extend"]["root_model"] == "dreamina_seedance_40_pro"
    assert body["extend"]["m_video_commerce_info"]["benefit_type"] == "dreamina_video_seedance_20_pro_with_video"
    assert body["extend"]["m_video_commerce_info_list"] == [body["extend"]["m_video_commerce_info"]]


def test_unknown_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        build(replace(FIRST_LAST_DRAFT, mode="nope"))


# ---------------------------------------------------------------------------------------------
# First/last frames
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(VIDEO_MODELS))
def test_resolution_is_sent_only_by_the_models_with_a_choice_of_resolution(name):
    draft = replace(FIRST_LAST_DRAFT, model=VIDEO_MODELS[name], resolution="1080p")
    takes_resolution = name in ("jimeng-video-3.0", "jimeng-video-3.0-fast", "jimeng-video-seedance-2.5",
                                "jimeng-video-seedance-2.0-vip")

    body = build(draft)

    key = VIDEO_MODELS[name].req_key
    assert ("resolution" in video_input(body)) is takes_resolution
    assert ("resolution" in scene_option(body)) is takes_resolution
    if takes_resolution:
        assert video_input(body)["resolution"] == "1080p"
        assert scene_option(body)["resolution"] == "1080p"
        assert scene_option(body)["reportParams"]["extraVipFunctionKey"] == f"{key}-1080p"
    else:
        assert scene_option(body)["reportParams"]["extraVipFunctionKey"] == key


@pytest.mark.parametrize("count, first, last", [(0, False, False), (1, True, False), (2, True, True)])
def test_first_last_image_count_decides_the_frame_fields(count, first, last):
    draft = replace(FIRST_LAST_DRAFT, images=FIRST_LAST_DRAFT.images[:count])

    body = build(draft)

    inp = video_input(body)
    assert ("first_frame_image" in inp) is first
    assert ("end_frame_image" in inp) is last
    assert inp["prompt"] == "生成一个拜年视频"
    assert inp["idip_meta_list"] == []
    assert scene_option(body)["materialTypes"] == [1] * count
    if first:
        assert inp["first_frame_image"]["uri"] == FIRST_LAST_DRAFT.images[0].uri
    if last:
        assert inp["end_frame_image"]["image_uri"] == FIRST_LAST_DRAFT.images[1].uri


def test_first_last_rejects_a_third_image():
    draft = replace(FIRST_LAST_DRAFT, images=FIRST_LAST_DRAFT.images * 2)

    with pytest.raises(ValueError):
        build(draft)


def test_first_last_duration_is_sent_in_ms_and_seconds():
    body = build(replace(FIRST_LAST_DRAFT, duration_s=10))

    assert video_input(body)["duration_ms"] == 10000
    assert scene_option(body)["videoDuration"] == 10


# ---------------------------------------------------------------------------------------------
# Cross-check with the real browser record
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser_record() -> dict:
    return load_fixture("history_record_video_success_see-video-server.json")


def test_first_last_metrics_extra_is_byte_identical_to_the_browsers(browser_record):
    body = build(FIRST_LAST_DRAFT, FIXTURE_SUBMIT_ID)

    assert body["metrics_extra"] == browser_record["metrics_extra"]


def test_first_last_draft_has_the_browsers_structure(browser_record):
    ours = expand(json.loads(build_video_generate_body(
        FIRST_LAST_DRAFT, submit_id=FIXTURE_SUBMIT_ID, new_id=counting_ids(),
        now_ms=lambda: int(json.loads(browser_record["draft_content"])["component_list"][0]
                           ["metadata"]["created_time_in_ms"]),
        seed=lambda: 3550643144)["draft_content"]))
    theirs = expand(json.loads(browser_record["draft_content"]))
    # Known differences, none of them sent by iptag either:
    theirs.pop("version"), ours.pop("version")          # the server stores every draft as 3.0.5
    theirs["component_list"][0].pop("gen_type")          # added by the server (stored record only)
    browser_input = theirs["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"][
        "video_gen_inputs"][0]
    browser_input.pop("ending_control")                  # browser-only slider value
    for key in ("first_frame_image", "end_frame_image"):
        browser_input[key].pop("aigc_image")             # the browser's images were made in Jimeng:
        browser_input[key]["source_from"] = "upload"     # "produced" + aigc_image; ours are uploads

    assert normalise(ours, {}) == normalise(theirs, {})


# ---------------------------------------------------------------------------------------------
# Multi-frame
# ---------------------------------------------------------------------------------------------

def test_multi_frame_sums_frame_durations_and_numbers_frames_from_zero():
    body = build(MULTI_FRAME_DRAFT)

    inp = video_input(body)
    assert inp["duration_ms"] == 7500
    assert inp["video_mode"] == MULTI_FRAME_VIDEO_MODE
    assert [f["idx"] for f in inp["multi_frames"]] == [0, 1, 2]
    assert [f["media_info"]["image_info"]["format"] for f in inp["multi_frames"]] == ["png", "jpeg", "webp"]
    assert json.loads(body["draft_content"])["min_features"] == ["AIGC_GenerateType_VideoMultiFrame"]


# ---------------------------------------------------------------------------------------------
# Main reference: [图N]
# ---------------------------------------------------------------------------------------------

def test_main_reference_prompt_keeps_text_untrimmed_and_in_order():
    parts = parse_main_reference_prompt("一只猫 [图1] 和 [图0]，在跑 ", 2)

    assert parts == [("text", "一只猫 "), ("image", 1), ("text", " 和 "), ("image", 0), ("text", "，在跑 ")]


def test_main_reference_prompt_of_the_capture():
    assert parse_main_reference_prompt("[图0] 中的猫在[图1]的地板上跑", 2) == [
        ("image", 0), ("text", " 中的猫在"), ("image", 1), ("text", "的地板上跑")]


def test_main_reference_adjacent_references_leave_no_empty_text():
    assert parse_main_reference_prompt("[图0][图1]", 2) == [("image", 0), ("image", 1)]


def test_main_reference_accepts_full_width_brackets():
    assert parse_main_reference_prompt("【图1】跑向[图0]", 2) == [("image", 1), ("text", "跑向"), ("image", 0)]


@pytest.mark.parametrize("prompt", ["[图2] 在跑", "[图0] 和 [图5]"])
def test_main_reference_index_beyond_the_images_is_rejected(prompt):
    with pytest.raises(InvalidRequest) as info:
        parse_main_reference_prompt(prompt, 2)

    assert info.value.param == "prompt"


@pytest.mark.parametrize("prompt", ["一只猫在跑", "", "[图a] [图] 图0"])
def test_main_reference_without_a_reference_is_rejected(prompt):
    with pytest.raises(InvalidRequest) as info:
        parse_main_reference_prompt(prompt, 2)

    assert info.value.param == "prompt"


def test_main_reference_body_rejects_a_bad_prompt_too():
    with pytest.raises(InvalidRequest):
        build(replace(MAIN_REFERENCE_DRAFT, prompt="[图3]"))


def test_main_reference_sends_every_image_even_when_not_cited():
    draft = replace(MAIN_REFERENCE_DRAFT, prompt="只有[图1]")

    inp = video_input(build(draft))

    assert [f["uri"] for f in inp["idip_frames"]] == [i.uri for i in MAIN_REFERENCE_DRAFT.images]
    assert [m["meta_type"] for m in inp["idip_meta_list"]] == ["text", "idip_frame"]


# ---------------------------------------------------------------------------------------------
# Omni reference: @name
# ---------------------------------------------------------------------------------------------

def test_omni_prefers_the_longest_name():
    names = omni_reference_names([("image_file", ""), ("image_file_1", "")])

    assert parse_omni_prompt("@image_file_1与@image_file", names) == [
        ("ref", "image_file_1"), ("text", "与"), ("ref", "image_file")]


def test_omni_longer_alias_wins_over_a_field_name_it_starts_with():
    names = omni_reference_names([("image_file_1", ""), ("image_file_2", "image_file_1_v2.png")])

    assert parse_omni_prompt("@image_file_1_v2.png", names) == [("ref", "image_file_2")]


def test_omni_alias_never_shadows_a_field_name():
    # The second image's file is literally called "image_file_1": the name keeps meaning the field.
    names = omni_reference_names([("image_file_1", "a.png"), ("image_file_2", "image_file_1"),
                                  ("image_file_3", "video_file")])

    assert names == {"image_file_1": "image_file_1", "image_file_2": "image_file_2",
                     "image_file_3": "image_file_3", "a.png": "image_file_1"}
    assert parse_omni_prompt("@image_file_1", names) == [("ref", "image_file_1")]


def test_omni_first_material_keeps_a_duplicate_alias():
    names = omni_reference_names([("image_file_1", "same.png"), ("image_file_2", "same.png")])

    assert names["same.png"] == "image_file_1"


def test_omni_unknown_reference_stays_text():
    names = omni_reference_names([("image_file_1", "cat.png")])

    assert parse_omni_prompt("@dog.png 跟着 @cat.png 跑 @", names) == [
        ("text", "@dog.png 跟着 "), ("ref", "image_file_1"), ("text", " 跑 @")]


def test_omni_prompt_without_references_is_one_text_entry():
    names = omni_reference_names([("image_file_1", "")])

    assert parse_omni_prompt("一只猫", names) == [("text", "一只猫")]
    assert parse_omni_prompt("", names) == [("text", "")]


def test_omni_body_cites_materials_by_index_and_type():
    draft = replace(OMNI_DRAFT, prompt="@video_file@cat.png @nobody")

    inp = video_input(build(draft))

    assert inp["unified_edit_input"]["meta_list"] == [
        {"meta_type": "video", "text": "", "material_ref": {"material_idx": 2}},
        {"meta_type": "image", "text": "", "material_ref": {"material_idx": 0}},
        {"meta_type": "text", "text": " @nobody"},
    ]
    assert inp["prompt"] == ""
    assert "resolution" not in inp


def test_omni_material_types_follow_material_order():
    body = build(OMNI_DRAFT)

    assert scene_option(body)["materialTypes"] == [1, 1, 2]
    materials = video_input(body)["unified_edit_input"]["material_list"]
    assert [m["material_type"] for m in materials] == ["image", "image", "video"]
    assert materials[2]["video_info"]["duration"] == 4000
    draft = json.loads(body["draft_content"])
    assert (draft["min_version"], draft["version"], draft["min_features"]) == (
        "3.3.9", "3.3.14", ["AIGC_Video_UnifiedEdit"])
