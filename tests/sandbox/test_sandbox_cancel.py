"""Cancel and the failure sub-codes of the 2026-12 addendum: `cancel_generate` cancels a queued CN
video (status 30 / task.status 30 / queue_status 3, credits returned) and refuses everything else;
a prompt refused at submit is task.status 10, a result refused by review task.status 40."""
import pytest

from tests.sandbox.test_sandbox_credits import balance
from tests.sandbox.wire import image_body, video_body

CANCEL = "/mweb/v1/aigc_draft/cancel_generate"
CANCELLED_WORDS = "你已取消生成，积分已返还"


def submit(jimeng, prompt="a cat", session="sess-alice", **kwargs) -> dict:
    answer = jimeng.submit(video_body(prompt, **kwargs), session=session)
    assert answer["ret"] == "0", answer
    return answer["data"]["aigc_data"]


def record(jimeng, history_id, session="sess-alice") -> dict:
    return jimeng.history(history_ids=[history_id], session=session)[history_id]


def cancel(jimeng, history_id, session="sess-alice", **kwargs) -> dict:
    return jimeng.call(CANCEL, {"history_id": history_id}, session=session, **kwargs)


def purchased(jimeng, session="sess-alice") -> int:
    return balance(jimeng, session)["credit"]["purchase_credit"]


def test_a_queued_video_is_cancelled_and_its_credits_come_back(jimeng):
    before = purchased(jimeng)
    history_id = submit(jimeng, duration_ms=5000)["history_record_id"]
    assert purchased(jimeng) < before

    answer = cancel(jimeng, history_id)

    assert answer["ret"] == "0", answer
    shown = record(jimeng, history_id)
    assert (shown["status"], shown["task"]["status"], shown["queue_info"]["queue_status"]) == (30, 30, 3)
    assert shown["fail_starling_message"] == CANCELLED_WORDS and shown["fail_code"] == ""
    assert shown["finish_time"] > 0 and shown["item_list"] == []
    assert purchased(jimeng) == before


def test_a_cancelled_video_stays_cancelled_and_frees_its_parallel_slot(jimeng, client, clock):
    client.post("/_sandbox/sessions", json={"session": "sess-one", "max_parallel": 1})
    history_id = submit(jimeng, session="sess-one")["history_record_id"]
    assert jimeng.submit(video_body(), session="sess-one")["ret"] == "1310"
    assert cancel(jimeng, history_id, session="sess-one")["ret"] == "0"
    clock.advance(60)
    assert record(jimeng, history_id, session="sess-one")["status"] == 30
    assert jimeng.submit(video_body(), session="sess-one")["ret"] == "0"


@pytest.mark.parametrize("advance,phase", [(3, "processing"), (7, "completed")])
def test_a_video_that_is_not_queued_is_refused_and_unchanged(jimeng, clock, advance, phase):
    history_id = submit(jimeng)["history_record_id"]
    clock.advance(advance)
    before = record(jimeng, history_id)
    answer = cancel(jimeng, history_id)
    assert answer["ret"] == "1000" and phase in answer["errmsg"] and answer["data"] is None
    assert record(jimeng, history_id)["status"] == before["status"]


def test_a_second_cancel_is_refused(jimeng):
    history_id = submit(jimeng)["history_record_id"]
    assert cancel(jimeng, history_id)["ret"] == "0"
    again = cancel(jimeng, history_id)
    assert again["ret"] == "1000" and "cancelled" in again["errmsg"]


def test_another_accounts_record_and_an_unknown_one_are_refused(jimeng):
    history_id = submit(jimeng)["history_record_id"]
    for answer in (cancel(jimeng, history_id, session="sess-mallory"), cancel(jimeng, "1234567890123")):
        assert answer["ret"] == "1000" and "no record" in answer["errmsg"]
    assert record(jimeng, history_id)["status"] == 20          # the owner's task runs on


def test_images_and_abroad_accounts_are_refused(jimeng):
    image = jimeng.submit(image_body())
    assert image["ret"] == "0", image
    refused = cancel(jimeng, image["data"]["aigc_data"]["history_record_id"])
    assert refused["ret"] == "1000" and "video" in refused["errmsg"]
    abroad = cancel(jimeng, "1234567890123", session="sess-us", region="us")
    assert abroad["ret"] == "1000" and "CN" in abroad["errmsg"]


@pytest.mark.parametrize("body", [{}, {"history_id": ""}, {"history_id": 123}, {"history_id": "12a"},
                                  {"history_ids": ["1"]}])
def test_a_malformed_body_is_invalid_parameter(jimeng, body):
    answer = jimeng.call(CANCEL, body)
    assert answer["ret"] == "1000" and "history_id" in answer["errmsg"]


def test_the_cancel_call_is_signed_and_checked_like_every_other(jimeng):
    history_id = submit(jimeng)["history_record_id"]
    assert cancel(jimeng, history_id, headers={"Sign": "0" * 32})["ret"] == "3018"
    assert cancel(jimeng, history_id, drop=("webId",))["ret"] == "1000"
    assert cancel(jimeng, history_id, drop=("sessionid",))["ret"] == "1015"
    assert record(jimeng, history_id)["status"] == 20


def test_a_prompt_refused_at_submit_is_failed_at_once_with_task_status_10(jimeng):
    before = purchased(jimeng)
    shown = submit(jimeng, "a cat [sandbox:refuse=prompt]")
    assert (shown["status"], shown["task"]["status"], shown["fail_code"]) == (30, 10, "")
    assert shown["fail_starling_message"] == "你输入的文字不符合平台规则，请修改后重试"
    assert record(jimeng, shown["history_record_id"])["task"]["status"] == 10
    assert purchased(jimeng) == before


def test_a_result_refused_by_review_is_task_status_40_and_costs_nothing(jimeng, clock):
    before = purchased(jimeng)
    history_id = submit(jimeng, "a cat [sandbox:refuse=output]")["history_record_id"]
    assert record(jimeng, history_id)["status"] == 20 and purchased(jimeng) < before
    clock.advance(7)
    shown = record(jimeng, history_id)
    assert (shown["status"], shown["task"]["status"], shown["fail_code"]) == (30, 40, "")
    assert shown["fail_starling_message"] == "视频未通过审核，本次不消耗积分"
    assert purchased(jimeng) == before


def test_an_ordinary_failure_keeps_its_fail_code_and_task_status_30(jimeng, clock):
    history_id = submit(jimeng, "[sandbox:fail=2038] a cat")["history_record_id"]
    clock.advance(7)
    shown = record(jimeng, history_id)
    assert (shown["status"], shown["task"]["status"], shown["fail_code"]) == (30, 30, "2038")
