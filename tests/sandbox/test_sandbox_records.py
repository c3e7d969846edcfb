"""The record life cycle (protocol 3.4, 5) and the scenario directives testers write in prompts."""
import pytest

from tests.sandbox.wire import image_body, video_body

LOCAL_ITEMS = "/mweb/v1/get_local_item_list"


def submit(jimeng, prompt="a cat", **kwargs) -> dict:
    answer = jimeng.submit(video_body(prompt), **kwargs)
    assert answer["ret"] == "0", answer
    return answer["data"]["aigc_data"]


def record(jimeng, history_id, **kwargs) -> dict:
    return jimeng.history(history_ids=[history_id], **kwargs)[history_id]


def test_generate_answers_a_queued_history_record(jimeng):
    answer = jimeng.submit(video_body())
    data = answer["data"]
    aigc = data["aigc_data"]
    assert aigc["history_record_id"].isdigit()
    assert aigc["task"]["history_id"] == aigc["history_record_id"]
    assert aigc["task"]["submit_id"] == aigc["submit_id"]
    assert (aigc["status"], aigc["item_list"], aigc["generate_type"], aigc["fail_code"]) == (20, [], 10, "")
    assert aigc["queue_info"]["queue_status"] == 1 and aigc["queue_info"]["queue_length"] > 0
    assert isinstance(aigc["created_time"], float)
    assert aigc["generate_id"] == answer["logid"]
    assert data["fail_code"] == ""


def test_record_moves_from_queued_to_processing_to_completed(jimeng, clock):
    history_id = submit(jimeng)["history_record_id"]
    queued = record(jimeng, history_id)
    clock.advance(2)
    processing = record(jimeng, history_id)
    clock.advance(4)
    done = record(jimeng, history_id)
    assert (queued["status"], queued["queue_info"]["queue_status"]) == (20, 1)
    assert queued["queue_info"]["queue_idx"] > 0 and queued["forecast_queue_cost"] == 2
    assert (processing["status"], processing["queue_info"]["queue_status"], processing["queue_info"]["queue_idx"]) \
        == (20, 2, 0)
    assert (done["status"], done["queue_info"]["queue_status"]) == (50, 3)
    assert done["finish_time"] == done["task"]["finish_time"] > 0


def test_finished_video_url_serves_a_real_mp4_with_ranges(jimeng, client, clock):
    history_id = submit(jimeng)["history_record_id"]
    clock.advance(6)
    item = record(jimeng, history_id)["item_list"][0]
    url = item["video"]["transcoded_video"]["origin"]["video_url"]
    whole = client.get(url)
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert whole.status_code == 200 and whole.data[4:8] == b"ftyp"
    assert whole.mimetype == "video/mp4"
    assert (part.status_code, len(part.data)) == (206, 100)
    assert item["common_attr"]["id"] == record(jimeng, history_id)["pre_gen_item_ids"][0]


def test_every_other_record_also_has_the_common_attr_url(jimeng, clock):
    ids = [submit(jimeng)["history_record_id"] for _ in range(2)]
    clock.advance(6)
    items = [record(jimeng, hid)["item_list"][0] for hid in ids]
    with_common = [("transcoded_video" in item["common_attr"]) for item in items]
    assert sorted(with_common) == [False, True]


def test_media_of_an_unfinished_record_is_not_served(jimeng, client):
    history_id = submit(jimeng)["history_record_id"]
    assert client.get(f"/media/{history_id}.mp4").status_code == 404


def test_another_session_cannot_see_the_record(jimeng, clock):
    aigc = submit(jimeng, session="sess-alice")
    clock.advance(6)
    assert jimeng.history(history_ids=[aigc["history_record_id"]], session="sess-bob") == {}
    assert jimeng.history(submit_ids=[aigc["submit_id"]], session="sess-bob") == {}


def test_record_is_found_by_submit_id(jimeng):
    aigc = submit(jimeng)
    found = jimeng.history(submit_ids=[aigc["submit_id"]])
    assert found[aigc["submit_id"]]["history_record_id"] == aigc["history_record_id"]


def test_fail_directive_fails_after_processing(jimeng, clock):
    history_id = submit(jimeng, "a cat [sandbox:fail=2038]")["history_record_id"]
    clock.advance(5)
    still_processing = record(jimeng, history_id)
    clock.advance(1)
    failed = record(jimeng, history_id)
    assert still_processing["status"] == 20
    assert (failed["status"], failed["fail_code"], failed["item_list"]) == (30, "2038", [])


def test_queue_and_generate_directives_set_the_timing(jimeng, clock):
    history_id = submit(jimeng, "[sandbox:queue=30] [sandbox:generate=10]")["history_record_id"]
    clock.advance(29)
    assert record(jimeng, history_id)["queue_info"]["queue_status"] == 1
    clock.advance(10)
    assert record(jimeng, history_id)["queue_info"]["queue_status"] == 2
    clock.advance(1)
    assert record(jimeng, history_id)["status"] == 50


def test_position_and_length_directives_set_the_queue_numbers(jimeng, clock):
    aigc = submit(jimeng, "[sandbox:queue=100] [sandbox:position=47] [sandbox:length=90000]")
    assert (aigc["queue_info"]["queue_idx"], aigc["queue_info"]["queue_length"]) == (47, 90000)
    clock.advance(50)
    halfway = record(jimeng, aigc["history_record_id"])["queue_info"]
    assert halfway["queue_idx"] == 24 and halfway["queue_length"] == 90000


def test_hidden_record_is_listed_only_after_its_delay(jimeng, clock):
    history_id = submit(jimeng, "[sandbox:hide=5]")["history_record_id"]
    assert jimeng.history(history_ids=[history_id]) == {}
    clock.advance(5)
    assert history_id in jimeng.history(history_ids=[history_id])


def test_expired_record_is_never_listed(jimeng, clock):
    history_id = submit(jimeng, "[sandbox:expire]")["history_record_id"]
    clock.advance(3600)
    assert jimeng.history(history_ids=[history_id]) == {}


def test_unknown_directive_is_refused(jimeng):
    answer = jimeng.submit(video_body("[sandbox:explode=1]"))
    assert answer["ret"] == "1000" and "sandbox:explode" in answer["errmsg"]


def test_no_credit_session_cannot_generate(jimeng):
    assert jimeng.submit(video_body(), session="nocredit-1")["ret"] == "1006"   # 2026: 1006 replaced 5000
    credit = jimeng.data("/commerce/v1/benefits/user_credit", {}, session="nocredit-1", drop=(
        "aid", "device_platform", "region", "da_version", "os", "web_component_open_flag", "web_version",
        "aigc_features"), headers={"Referer": "https://jimeng.jianying.com/ai-tool/image/generate"})["credit"]
    assert sum(credit.values()) == 0


def test_risky_session_is_refused_by_risk_control(jimeng):
    assert jimeng.submit(video_body(), session="risky-1")["ret"] == "1019"


def test_image_task_completes_with_four_pngs(jimeng, client, clock):
    answer = jimeng.submit(image_body())
    history_id = answer["data"]["aigc_data"]["history_record_id"]
    clock.advance(6)
    done = record(jimeng, history_id)
    urls = [item["image"]["large_images"][0]["image_url"] for item in done["item_list"]]
    assert (done["status"], done["total_image_count"], done["finished_image_count"], len(urls)) == (50, 4, 4, 4)
    assert client.get(urls[3]).data.startswith(b"\x89PNG")


def test_high_quality_item_list_answers_the_same_video_url(jimeng, clock):
    history_id = submit(jimeng)["history_record_id"]
    clock.advance(6)
    item = record(jimeng, history_id)["item_list"][0]
    body = {"item_id_list": [item["common_attr"]["id"]], "pack_item_opt": {"scene": 1, "need_data_integrity": True},
            "is_for_video_download": True}
    hq = jimeng.data(LOCAL_ITEMS, body)["item_list"][0]
    assert hq["video"]["transcoded_video"]["origin"]["video_url"] == \
        item["video"]["transcoded_video"]["origin"]["video_url"]
    assert jimeng.data(LOCAL_ITEMS, body, session="sess-bob")["item_list"] == []


@pytest.mark.parametrize("body", [{}, {"history_ids": "123"}, {"history_ids": [123]}])
def test_history_query_needs_id_lists(jimeng, body):
    assert jimeng.call("/mweb/v1/get_history_by_ids", body)["ret"] == "1000"
