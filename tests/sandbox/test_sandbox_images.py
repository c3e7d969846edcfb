"""The fake Jimeng's image generation: the 2026 count field and where it sits, model keys, ratio and
size codes, reference ownership, rounds of results, a content-policy failure, the served files."""
import json

import pytest

from tests.sandbox.test_sandbox_credits import balance, set_credits
from tests.sandbox.wire import image_body


def accepted(jimeng, body, **kwargs) -> dict:
    answer = jimeng.submit(body, **kwargs)
    assert answer["ret"] == "0", answer
    return answer["data"]["aigc_data"]


def refused(jimeng, body, **kwargs) -> str:
    answer = jimeng.submit(body, **kwargs)
    assert answer["ret"] == "1000", answer
    return answer["errmsg"]


def record(jimeng, history_id) -> dict:
    return jimeng.history(history_ids=[history_id])[history_id]


def urls(rec: dict) -> list[str]:
    return [item["image"]["large_images"][0]["image_url"] for item in rec["item_list"]]


def with_draft(body: dict, change) -> dict:
    draft = json.loads(body["draft_content"])
    change(draft["component_list"][0])
    return {**body, "draft_content": json.dumps(draft)}


@pytest.mark.parametrize("count", [1, 5, 8])
def test_gen_count_makes_exactly_that_many_images(jimeng, clock, count):
    history_id = accepted(jimeng, image_body(gen_count=count))["history_record_id"]
    clock.advance(6)
    done = record(jimeng, history_id)
    assert (done["status"], done["total_image_count"], len(urls(done))) == (50, count, count)


@pytest.mark.parametrize("count", [0, 9, "2", True])
def test_gen_count_outside_1_to_8_is_refused(jimeng, count):
    assert "gen_count" in refused(jimeng, image_body(gen_count=count))


def test_gen_option_inside_generate_is_refused(jimeng):
    def misplace(component):
        abilities = component["abilities"]
        abilities["generate"]["gen_option"] = abilities.pop("gen_option")
    assert "belongs on abilities" in refused(jimeng, with_draft(image_body(gen_count=2), misplace))


def test_gen_type_must_match_the_generate_type(jimeng):
    assert "gen_type" in refused(jimeng, with_draft(image_body(), lambda c: c.update(gen_type=12)))
    accepted(jimeng, with_draft(image_body(), lambda c: c.update(gen_type=1)))


@pytest.mark.parametrize("key, resolution, size, code", [
    ("high_aes_general_v50p_large", "1.5k", (1920, 1080), 3),
    ("high_aes_general_v43", "4k", (2880, 5120), 105),
    ("high_aes_general_v30l:general_v3.0_18b", "1k", (1472, 1104), 4),
])
def test_new_models_sizes_and_codes_are_accepted(jimeng, key, resolution, size, code):
    accepted(jimeng, image_body(model=key, resolution=resolution, size=size, ratio_code=code))


@pytest.mark.parametrize("kwargs, words", [
    ({"model": "high_aes_general_v40l", "resolution": "1k", "size": (1328, 1328)}, "resolution_type"),
    ({"resolution": "4k", "size": (4096, 4096), "ratio_code": 1}, "101..108"),
    ({"ratio_code": 9}, "ratio code"),
    ({"ratio_code": 3, "size": (2048, 2048)}, "not the 16:9"),
])
def test_wrong_resolution_ratio_code_or_shape_is_refused(jimeng, kwargs, words):
    assert words in refused(jimeng, image_body(**kwargs))


def test_region_keys_differ(jimeng):
    art_cn = "high_aes_general_v30l_art_fangzhou:general_v3.0_18b"
    kwargs = dict(resolution="1k", size=(1328, 1328))
    accepted(jimeng, image_body(model=art_cn, **kwargs))
    assert "not offered in region" in refused(jimeng, image_body(model="gemini_3_image_pro", **kwargs))


def test_blend_refuses_a_reference_of_another_session(jimeng, png):
    uri = jimeng.upload_image(png, session="sess-bob")["ImageUri"]
    assert "not uploaded by this session" in refused(jimeng, image_body(blend_uris=(uri,)))


def test_blend_needs_one_placeholder_per_reference(jimeng, png):
    uris = tuple(jimeng.upload_image(png)["ImageUri"] for _ in range(2))

    def drop_one(component):
        component["abilities"]["blend"]["prompt_placeholder_info_list"].pop()
    assert "prompt_placeholder_info_list" in refused(jimeng, with_draft(image_body(blend_uris=uris), drop_one))


def test_eight_images_arrive_in_two_rounds_and_the_record_ends_at_50(jimeng, client, clock):
    history_id = accepted(jimeng, image_body(gen_count=8))["history_record_id"]
    clock.advance(2 + 2.5)                        # queue 2 s, then half of the 4 s generation
    half = record(jimeng, history_id)
    assert (half["status"], half["finished_image_count"], len(urls(half))) == (20, 4, 4)
    assert client.get(urls(half)[3]).data.startswith(b"\x89PNG")     # delivered files are served
    assert client.get(urls(half)[3].replace("/3.png", "/4.png")).status_code == 404
    clock.advance(2)
    done = record(jimeng, history_id)
    assert (done["status"], done["finished_image_count"], len(urls(done))) == (50, 8, 8)


def test_content_policy_failure_carries_its_fail_code(jimeng, clock):
    history_id = accepted(jimeng, image_body("a scene [sandbox:fail=2038]", gen_count=2))["history_record_id"]
    clock.advance(6)
    failed = record(jimeng, history_id)
    assert (failed["status"], failed["fail_code"], failed["item_list"]) == (30, "2038", [])
    assert failed["fail_starling_message"]


def test_an_image_task_charges_one_credit_per_image_asked_for(jimeng, client):
    set_credits(client, "sess-img", 10)
    accepted(jimeng, image_body(gen_count=3), session="sess-img")
    assert balance(jimeng, "sess-img")["credit"]["purchase_credit"] == 7
