"""Image generate bodies per model family against golden files of the exact upstream body, and the
2026 facts each body must carry (protocol 6.3, update 4.2)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.jimeng.assets import ImageDraft, UploadedImage
from app.jimeng.image_payloads import build_image_generate_body
from app.jimeng.models import IMAGE_MODELS, IMAGE_RATIOS
from tests.unit.test_payloads import NOW_MS, counting_ids, readable

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
SEED = 123456789
REFS = (UploadedImage("tos-cn-i-tb4s082cfz/0000000000000000000000000000000c", 1024, 768, "png"),
        UploadedImage("tos-cn-i-tb4s082cfz/0000000000000000000000000000000d", 800, 800, "jpeg"))
ABROAD_REFS = (UploadedImage("tos-alisg-i-wopfjsm1ax/0000000000000000000000000000000e", 640, 480, "png"),
               UploadedImage("tos-alisg-i-wopfjsm1ax/0000000000000000000000000000000f", 512, 512, "webp"))

# One body per family: (draft, submit id, workspace id).
FAMILIES = {
    "image_5.0_pro_text": (ImageDraft(IMAGE_MODELS["jimeng-5.0-pro"], "cn", "雪地里的红狐狸，黄金时刻", "16:9", "1.5k", 2),
                           "1a6e0000-0000-4000-8000-000000000050", None),
    "image_4.x_text_4k": (ImageDraft(IMAGE_MODELS["jimeng-4.7"], "cn", "a lighthouse in a storm", "9:16", "4k", 8,
                                     negative_prompt="text, watermark"),
                          "1a6e0000-0000-4000-8000-000000000047", None),
    "image_3.x_text_1k": (ImageDraft(IMAGE_MODELS["jimeng-3.1"], "sg", "a watercolour harbour", "4:3", "1k", 1,
                                     aid=513641), "1a6e0000-0000-4000-8000-000000000031", 249443284237),
    "image_nanobananapro_4k": (ImageDraft(IMAGE_MODELS["nanobananapro"], "us", "a glass city", "21:9", "4k", 1,
                                          aid=513641), "1a6e0000-0000-4000-8000-0000000000ba", 249443284237),
    "image_5.0_lite_blend": (ImageDraft(IMAGE_MODELS["jimeng-5.0-lite"], "cn", "第一张图的猫坐在第二张图的沙发上", "3:2",
                                        "2k", 4, sample_strength=0.7, references=REFS),
                             "1a6e0000-0000-4000-8000-0000000000b1", None),
    "image_2.0_pro_text_1k": (ImageDraft(IMAGE_MODELS["jimeng-2.0-pro"], "cn", "一座雾中的石桥", "1:1", "1k", 1),
                              "1a6e0000-0000-4000-8000-000000000020", None),
    "image_nanobanana_text_1k": (ImageDraft(IMAGE_MODELS["nanobanana"], "hk", "a paper boat on a puddle", "9:16",
                                            "1k", 3, aid=513641), "1a6e0000-0000-4000-8000-0000000000bb", 249443284237),
    "image_gpt_image_text_2k": (ImageDraft(IMAGE_MODELS["dreamina-gpt-image-2.5-sunburst"], "us",
                                           "a neon diner at night", "2:3", "2k", 2, negative_prompt="blur",
                                           aid=513641), "1a6e0000-0000-4000-8000-00000000025f", 249443284237),
    "image_lib_img_text_4k": (ImageDraft(IMAGE_MODELS["dreamina-lib-img-20260423"], "sg", "a tea field at dawn",
                                         "16:9", "4k", 1, aid=513641),
                              "1a6e0000-0000-4000-8000-000000000423", 249443284237),
    "image_abroad_blend": (ImageDraft(IMAGE_MODELS["nanobananapro"], "jp", "the hat of the first on the dog of the "
                                      "second", "4:3", "2k", 2, sample_strength=0.6, references=ABROAD_REFS,
                                      aid=513641), "1a6e0000-0000-4000-8000-0000000000ab", 249443284237),
}


def build(draft: ImageDraft, submit_id: str = "11111111-2222-4333-8444-555555555555", workspace_id=None) -> dict:
    return build_image_generate_body(draft, submit_id=submit_id, new_id=counting_ids(), now_ms=lambda: NOW_MS,
                                     seed=lambda: SEED, workspace_id=workspace_id)


def component(body: dict) -> dict:
    return json.loads(body["draft_content"])["component_list"][0]


def core(body: dict) -> dict:
    abilities = component(body)["abilities"]
    return (abilities.get("generate") or abilities["blend"])["core_param"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_body_matches_golden_file(family):
    draft, submit_id, workspace_id = FAMILIES[family]
    golden = json.loads((GOLDEN_DIR / f"{family}.json").read_text(encoding="utf-8"))

    assert readable(build(draft, submit_id, workspace_id), submit_id) == golden


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_count_sits_on_abilities_beside_the_ability(family):
    draft = FAMILIES[family][0]
    abilities = component(build(draft))["abilities"]

    assert abilities["gen_option"]["gen_count"] == draft.count
    assert abilities["gen_option"]["generate_all"] is False
    assert "gen_option" not in (abilities.get("generate") or abilities["blend"])


@pytest.mark.parametrize("ratio", IMAGE_RATIOS)
def test_ratio_codes_are_the_captured_table_and_4k_adds_100(ratio):
    codes = {"1:1": 1, "3:4": 2, "16:9": 3, "4:3": 4, "9:16": 5, "2:3": 6, "3:2": 7, "21:9": 8}
    base = ImageDraft(IMAGE_MODELS["jimeng-4.5"], "cn", "x", ratio, "2k", 1)

    assert core(build(base))["image_ratio"] == codes[ratio]
    assert core(build(ImageDraft(base.model, "cn", "x", ratio, "4k", 1)))["image_ratio"] == codes[ratio] + 100


def test_width_and_height_follow_ratio_and_resolution():
    info = core(build(ImageDraft(IMAGE_MODELS["jimeng-5.0-pro"], "cn", "x", "3:4", "1.5k", 1)))["large_image_info"]

    assert (info["width"], info["height"], info["resolution_type"]) == (1296, 1728, "1.5k")


def test_abroad_drafts_name_the_region_key_and_carry_no_gen_type():
    body = build(ImageDraft(IMAGE_MODELS["jimeng-3.1"], "jp", "x", "1:1", "1k", 1, aid=513641), workspace_id=7)

    assert body["extend"] == {"root_model": "high_aes_general_v30l_art:general_v3.0_18b", "workspace_id": 7}
    assert core(body)["model"] == "high_aes_general_v30l_art:general_v3.0_18b"
    assert "gen_type" not in component(body)


def test_blend_prompt_carries_two_hashes_per_reference_and_no_seed():
    body = build(FAMILIES["image_5.0_lite_blend"][0])

    assert core(body)["prompt"].startswith("####第一张")
    assert "seed" not in core(body)
    assert [a["image_uri_list"] for a in component(body)["abilities"]["blend"]["ability_list"]] == \
        [[r.uri] for r in REFS]


@pytest.mark.parametrize("count", [0, 9])
def test_a_count_outside_1_to_8_is_never_built(count):
    with pytest.raises(ValueError):
        build(ImageDraft(IMAGE_MODELS["jimeng-4.5"], "cn", "x", "1:1", "2k", count))


# Per family, the facts read off the protocol's tables, not off the builder: the upstream key (6.1,
# update 4.2), width x height, resolution_type and image_ratio (6.2; 1k and 1.5k from update 4.2),
# and the component's gen_type (CN only, [DB]). So a golden regenerated from a wrong body fails here.
PROTOCOL_FACTS = {
    "image_5.0_pro_text": ("high_aes_general_v50p_large", (1920, 1080), "1.5k", 3, 1),
    "image_4.x_text_4k": ("high_aes_general_v43", (2880, 5120), "4k", 105, 1),
    "image_3.x_text_1k": ("high_aes_general_v30l_art:general_v3.0_18b", (1472, 1104), "1k", 4, None),
    "image_nanobananapro_4k": ("gemini_3_image_pro", (6197, 2656), "4k", 8, None),
    "image_5.0_lite_blend": ("high_aes_general_v50", (2496, 1664), "2k", 7, 12),
    "image_2.0_pro_text_1k": ("high_aes_general_v20_L:general_v2.0_L", (1328, 1328), "1k", 1, 1),
    "image_nanobanana_text_1k": ("external_model_gemini_flash_image_v25", (936, 1664), "1k", 5, None),
    "image_gpt_image_text_2k": ("dreamina_gpt_image_2_5_sunburst", (1664, 2496), "2k", 6, None),
    "image_lib_img_text_4k": ("dreamina_lib_img_20260423", (5120, 2880), "4k", 103, None),
    "image_abroad_blend": ("gemini_3_image_pro", (2304, 1728), "2k", 4, None),
}


def test_every_family_has_its_protocol_facts_and_a_golden_file():
    assert set(PROTOCOL_FACTS) == set(FAMILIES)
    assert {p.stem for p in GOLDEN_DIR.glob("image_*.json")} == set(FAMILIES)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_golden_file_carries_the_protocol_facts_of_its_family(family):
    key, (width, height), resolution, code, gen_type = PROTOCOL_FACTS[family]
    golden = json.loads((GOLDEN_DIR / f"{family}.json").read_text(encoding="utf-8"))
    component = golden["draft_content"]["component_list"][0]
    abilities = component["abilities"]
    core = (abilities.get("generate") or abilities["blend"])["core_param"]
    abroad = FAMILIES[family][0].region != "cn"

    assert golden["extend"]["root_model"] == core["model"] == key
    assert (core["large_image_info"]["width"], core["large_image_info"]["height"]) == (width, height)
    assert (core["large_image_info"]["resolution_type"], core["image_ratio"]) == (resolution, code)
    assert component.get("gen_type") == gen_type
    assert golden["http_common_info"]["aid"] == (513641 if abroad else 513695)
    assert ("workspace_id" in golden["extend"]) == abroad
