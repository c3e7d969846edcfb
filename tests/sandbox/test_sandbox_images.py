"""The fake Jimeng's image generation: the 2026 count field and where it sits, model keys, ratio and
size codes, reference ownership, rounds of results, a content-policy failure, the served files."""
import json

import pytest

from sandbox import credits
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


def image_body_in(*, workspace=None, **kwargs) -> dict:
    """An image body; abroad ones carry the account's workspace id in `extend`."""
    body = image_body(**kwargs)
    if workspace is not None:
        body["extend"]["workspace_id"] = workspace
    return body


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


@pytest.mark.parametrize("key, resolution, size, per_image", [
    ("high_aes_general_v50p_large", "2k", (2048, 2048), 8),      # 5.0 Pro: 8 at 2k (update 4.2)
    ("high_aes_general_v50p_large", "1.5k", (1536, 1536), 8),    # no other figure: the 2k one
    ("high_aes_general_v50", "2k", (2048, 2048), 3),             # 5.0 Lite
    ("high_aes_general_v43", "2k", (2048, 2048), 4),             # 4.7
    ("high_aes_general_v40l", "2k", (2048, 2048), 4),            # 4.5
    ("high_aes_general_v30l:general_v3.0_18b", "1k", (1328, 1328), 1),
    ("high_aes_general_v20_L:general_v2.0_L", "1k", (1328, 1328), 1),
])
def test_an_image_task_charges_the_models_price_per_image_asked_for(jimeng, client, key, resolution, size,
                                                                     per_image):
    set_credits(client, "sess-img", 100)
    accepted(jimeng, image_body(model=key, resolution=resolution, size=size, gen_count=3), session="sess-img")
    assert balance(jimeng, "sess-img")["credit"]["purchase_credit"] == 100 - 3 * per_image


def test_a_model_without_a_published_price_costs_the_sandboxs_own_one_credit():
    assert credits.price("image", 0, 5, "gpt_image_2") == 5
    assert credits.price("image", 0, 2, "not-a-model") == 2


def test_an_image_task_the_account_cannot_pay_at_the_models_price_is_1006(jimeng, client):
    set_credits(client, "sess-img", 15)
    answer = jimeng.submit(image_body(model="high_aes_general_v50p_large", gen_count=2), session="sess-img")
    assert answer["ret"] == "1006" and "costs 16" in answer["errmsg"]
    assert balance(jimeng, "sess-img")["credit"]["purchase_credit"] == 15


# -- sizes belong to their resolution (protocol 6.2, update 4.2) ---------------------------------

@pytest.mark.parametrize("kwargs", [
    {"resolution": "4k", "size": (1328, 1328), "ratio_code": 101},       # a 1k size labelled 4k
    {"resolution": "2k", "size": (1328, 1328), "ratio_code": 1},         # a 1k size labelled 2k
    {"resolution": "2k", "size": (4096, 4096), "ratio_code": 1},         # a 4k size labelled 2k
    {"resolution": "2k", "size": (2560, 1430), "ratio_code": 3},         # near 16:9, but no 2k size
    {"model": "high_aes_general_v50p_large", "resolution": "1.5k", "size": (2048, 2048)},
    {"model": "high_aes_general_v30l:general_v3.0_18b", "resolution": "1k", "size": (2048, 2048)},
])
def test_a_size_of_another_resolution_is_refused(jimeng, kwargs):
    assert f"is not a {kwargs['resolution']} size" in refused(jimeng, image_body(**kwargs))


@pytest.mark.parametrize("key, resolution, size, code", [
    ("high_aes_general_v30l:general_v3.0_18b", "1k", (1024, 576), 3),      # iptag's 1k row
    ("high_aes_general_v30l:general_v3.0_18b", "1k", (1280, 720), 3),      # normalised ([DB]), not listed
    ("high_aes_general_v30l:general_v3.0_18b", "1k", (1584, 1056), 7),     # 3:2 [ZN] does not list
    ("high_aes_general_v50p_large", "1.5k", (1248, 1872), 6),              # 2:3 [ZN] does not list
    ("high_aes_general_v50p_large", "4k", (3328, 4992), 106),
])
def test_sizes_of_the_table_and_normalised_1k_sizes_are_accepted(jimeng, key, resolution, size, code):
    accepted(jimeng, image_body(model=key, resolution=resolution, size=size, ratio_code=code))


@pytest.mark.parametrize("size, code, ok", [((6197, 2656), 8, True), ((3520, 4693), 2, True),
                                            ((5120, 2880), 3, False)])   # the others' 4k size is not its own
def test_nanobananapro_at_4k_takes_its_own_sizes_only(jimeng, size, code, ok):
    body = image_body_in(model="gemini_3_image_pro", resolution="4k", size=size, ratio_code=code, aid=513641,
                         workspace=jimeng.workspace_id(region="hk"))
    if ok:
        accepted(jimeng, body, region="hk")
    else:
        assert "is not a 4k size" in refused(jimeng, body, region="hk")


# -- image_ratio is required unless intelligent_ratio stands in for it (protocol 6.2, 6.3) -------

def without_ratio(body: dict, *, intelligent: bool, ability: str = "generate") -> dict:
    def change(component):
        core = component["abilities"][ability]["core_param"]
        del core["image_ratio"]
        core["intelligent_ratio"] = intelligent
    return with_draft(body, change)


@pytest.mark.parametrize("key", ["high_aes_general_v40", "high_aes_general_v41", "high_aes_general_v40l",
                                 "high_aes_general_v42", "high_aes_general_v50"])
def test_text_to_image_with_intelligent_ratio_may_leave_image_ratio_out(jimeng, key):
    accepted(jimeng, without_ratio(image_body(model=key), intelligent=True))


@pytest.mark.parametrize("key, intelligent", [
    ("high_aes_general_v40l", False),             # intelligent_ratio false: the code is needed
    ("high_aes_general_v43", True),               # 4.7: intelligent_ratio takes no effect
    ("high_aes_general_v50p_large", True),        # 5.0 Pro: neither
])
def test_text_to_image_without_image_ratio_is_refused_otherwise(jimeng, key, intelligent):
    assert "image_ratio is required" in refused(jimeng, without_ratio(image_body(model=key), intelligent=intelligent))


def test_even_without_image_ratio_the_size_must_be_of_its_resolution(jimeng):
    body = without_ratio(image_body(resolution="4k", size=(2048, 2048)), intelligent=True)
    assert "not a 4k size" in refused(jimeng, body)


# -- done with more to come: a round marked finished, then more images (protocol 6.4, 6.5) ---------

def test_a_round_is_marked_finished_in_a_pause_and_more_images_follow(jimeng, client, clock):
    # queue 2 s, two rounds of 2 s each (the 4 s generation), a 3 s pause between them
    history_id = accepted(jimeng, image_body("eight [sandbox:pause=3]", gen_count=8))["history_record_id"]
    clock.advance(3)
    first = record(jimeng, history_id)
    assert (first["status"], first["finished_image_count"], first["finish_time"]) == (20, 0, 0)

    clock.advance(2)                                                       # 5 s: in the pause
    paused = record(jimeng, history_id)
    assert (paused["status"], paused["total_image_count"], paused["finished_image_count"]) == (50, 8, 4)
    assert len(urls(paused)) == 4 and paused["finish_time"] > 0 and paused["queue_info"]["queue_status"] == 3
    assert client.get(urls(paused)[3]).status_code == 200
    summary = next(r for r in client.get("/_sandbox/records").get_json()["records"]
                   if r["history_record_id"] == history_id)
    assert (summary["phase"], summary["delivered"], summary["results"]) == ("paused", 4, 8)

    clock.advance(3)                                                       # 8 s: the second round
    resumed = record(jimeng, history_id)
    assert (resumed["status"], resumed["finished_image_count"], resumed["finish_time"]) == (20, 4, 0)

    clock.advance(1.5)                                                     # 9.5 s: all there
    done = record(jimeng, history_id)
    assert (done["status"], done["finished_image_count"], len(urls(done))) == (50, 8, 8)


def test_the_status_a_paused_record_shows_can_be_chosen(jimeng, clock):
    history_id = accepted(jimeng, image_body("[sandbox:pause=3] [sandbox:paused_status=20]",
                                             gen_count=5))["history_record_id"]
    clock.advance(5)
    paused = record(jimeng, history_id)
    assert (paused["status"], paused["total_image_count"], paused["finished_image_count"]) == (20, 5, 4)


def test_a_task_of_one_round_never_pauses(jimeng, clock):
    history_id = accepted(jimeng, image_body("[sandbox:pause=30]", gen_count=4))["history_record_id"]
    clock.advance(6)
    assert record(jimeng, history_id)["status"] == 50


def test_a_paused_task_still_counts_as_running(jimeng, client, clock):
    accepted(jimeng, image_body("[sandbox:pause=30]", gen_count=8))
    clock.advance(5)
    summary = client.get("/_sandbox/records").get_json()["records"][-1]
    assert summary["phase"] == "paused"
    client.post("/_sandbox/sessions", json={"session": "sess-alice", "max_parallel": 1})
    assert jimeng.submit(image_body(gen_count=1))["ret"] != "0"


@pytest.mark.parametrize("directive", ["[sandbox:pause=soon]", "[sandbox:paused_status=fifty]"])
def test_a_malformed_pause_directive_is_refused(jimeng, directive):
    assert "sandbox directive" in refused(jimeng, image_body(f"a cat {directive}", gen_count=8))
