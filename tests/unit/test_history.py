import pytest

from app.jimeng.history import FAILED, QUEUED, RUNNING, SUCCEEDED, parse_record, video_url
from tests.jimeng_fakes import (CANCELLED, OUTPUT_REFUSED, PROMPT_REFUSED, failed_record, failed_with, finished_record,
                                queued_record)


def test_real_finished_record_yields_its_video_url_and_model():
    record = parse_record("x", finished_record())
    assert record.phase == SUCCEEDED
    assert record.video_url.startswith("https://v9-artist.vlabvod.com/")
    assert record.model_key == "dreamina_ic_generate_video_model_vgfm_3.0"
    assert record.video_meta["width"] == 960 and record.item_id == "7605520754297392435"


def test_common_attr_url_is_preferred_as_iptag_reads_it():
    item = {"common_attr": {"transcoded_video": {"origin": {"video_url": "https://a/1.mp4"}}},
            "video": {"transcoded_video": {"origin": {"video_url": "https://b/2.mp4"}}}}
    assert video_url(item) == "https://a/1.mp4"


@pytest.mark.parametrize("item,expected", [
    ({"video": {"play_url": "https://p/v.mp4"}}, "https://p/v.mp4"),
    ({"video": {"download_url": "https://d/v.mp4"}}, "https://d/v.mp4"),
    ({"video": {"url": "https://u/v.mp4"}}, "https://u/v.mp4"),
    ({"media_info": {"video": {"video_url": "https://m/v.mp4"}}}, "https://m/v.mp4"),
    ({"video": {"play_url": ""}}, None),
])
def test_video_url_fallbacks(item, expected):
    assert video_url(item) == expected


def test_queue_status_1_is_queued_and_2_is_running():
    assert parse_record("x", queued_record(queue_status=1, position=0)).phase == QUEUED
    assert parse_record("x", queued_record(queue_status=2, position=0)).phase == RUNNING
    assert parse_record("x", queued_record(queue_status=2, position=5)).phase == QUEUED


def test_status_10_without_result_is_still_running():
    assert parse_record("x", queued_record(status=10, queue_status=2, position=0)).phase == RUNNING


def test_failure_classes():
    assert parse_record("x", failed_record(fail_code="2038")).failure[0] == "content_rejected"
    assert parse_record("x", failed_record(fail_code="9999")).failure[0] == "generation_failed"
    assert parse_record("x", failed_record()).phase == FAILED


@pytest.mark.parametrize("sub_code,error_code", [(PROMPT_REFUSED, "prompt_rejected"),
                                                 (OUTPUT_REFUSED, "output_rejected"), (CANCELLED, "cancelled")])
def test_the_task_status_sub_codes_of_a_failed_record_are_classes_of_their_own(sub_code, error_code):
    record = parse_record("x", failed_with(sub_code))
    assert record.phase == FAILED and record.failure[0] == error_code
    assert record.failure[1].endswith(sub_code[1])          # Jimeng's own words close the reason


def test_classes_come_from_codes_never_from_the_message():
    # Jimeng's cancel message on a record whose codes say content policy: the codes win.
    raw = failed_record(fail_code="2038")
    raw["fail_starling_message"] = CANCELLED[1]
    assert parse_record("x", raw).failure[0] == "content_rejected"
    # and the cancel's codes with another message are still a cancel
    assert parse_record("x", {**failed_with(CANCELLED), "fail_starling_message": "whatever"}).failure[0] == "cancelled"


def test_an_ordinary_failure_that_also_shows_30_and_done_is_not_a_cancel():
    # status 30 / task.status 30 / queue_status 3 with a fail_code: the fail_code says what went wrong.
    assert parse_record("x", failed_with(CANCELLED, fail_code="2043")).failure[0] == "generation_failed"
    # and a 30 that is not done (queue_status 2) is no cancel either
    assert parse_record("x", failed_with(CANCELLED, queue_status=2)).failure[0] == "generation_failed"


def test_an_output_refusal_wins_over_its_fail_code():
    """task.status 40 says no credits were charged, which a fail_code class would not tell."""
    assert parse_record("x", failed_with(OUTPUT_REFUSED, fail_code="2038")).failure[0] == "output_rejected"
