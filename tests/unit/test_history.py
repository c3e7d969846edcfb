import pytest

from app.jimeng.history import FAILED, QUEUED, RUNNING, SUCCEEDED, parse_record, video_url
from tests.jimeng_fakes import failed_record, finished_record, queued_record


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
