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
