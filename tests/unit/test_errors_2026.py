"""The 2026 refusals (update section 5) at the HTTP boundary: which error, which status, which message,
and the failure fields read both at the envelope's top level and under `data`."""
import pytest
import responses

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.history import parse_record
from app.jimeng.regions import parse_token
from tests.jimeng_fakes import GENERATE_URL, failed_record

RISK_CN = "生成失败，疑似存在异常行为，请重新尝试"
RISK_ABROAD = "Couldn't generate due to unusual activity in your account. Try again later."


@pytest.fixture
def jimeng():
    return JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, clock=lambda: 1770000000.0)


def refusal(ret: str, errmsg: str, *, top: dict | None = None, data: dict | None = None) -> dict:
    return {"ret": ret, "errmsg": errmsg, "systime": "1770000000", "logid": "L", "data": data, **(top or {})}


def refused(jimeng, answer: dict) -> errors.ServiceError:
    responses.post(GENERATE_URL, json=answer)
    with pytest.raises(errors.ServiceError) as info:
        jimeng.generate(parse_token("sess"), {"submit_id": "x"})
    assert len(responses.calls) == 1           # a refusal is never resent
    return info.value


@responses.activate
def test_4013_with_fields_at_the_top_level_is_risk_control_with_jimengs_words(jimeng):
    exc = refused(jimeng, refusal("4013", RISK_CN, top={
        "fail_starling_key": "web_risk_control_message_reject_generation"}))
    assert (exc.http_status, exc.code, exc.extra["upstream_code"]) == (403, "risk_control", "4013")
    assert RISK_CN in exc.message


@responses.activate
def test_minus_6_shows_the_starling_message_from_under_data(jimeng):
    exc = refused(jimeng, refusal("-6", "shark not pass reject", data={
        "fail_starling_message": RISK_ABROAD, "fail_code": ""}))
    assert (exc.http_status, exc.code) == (403, "risk_control")
    assert exc.message.endswith(RISK_ABROAD)


@responses.activate
def test_1019_is_risk_control(jimeng):
    exc = refused(jimeng, refusal("1019", "shark not pass"))
    assert (exc.http_status, exc.code) == (403, "risk_control") and "shark not pass" in exc.message


@responses.activate
def test_1310_is_a_concurrency_limit_with_retry_after(jimeng):
    exc = refused(jimeng, refusal("1310", "因目前处于使用高峰期", top={"fail_code": "exceed_model_parallel_max"}))
    assert (exc.http_status, exc.code) == (429, "concurrency_limit")
    assert exc.headers["Retry-After"].isdigit()
    assert exc.extra["upstream_fail_code"] == "exceed_model_parallel_max"


@responses.activate
def test_1006_abroad_with_fields_under_data_is_402(jimeng):
    exc = refused(jimeng, refusal("1006", "Not enough credits left", data={
        "fail_code": "1006", "fail_starling_key": "web_dre_m10n_generate_popup_credit_ininsufficient_title"}))
    assert (exc.http_status, exc.code) == (402, "insufficient_credits")


@responses.activate
def test_2061_is_model_unavailable(jimeng):
    exc = refused(jimeng, refusal("2061", "model no longer available"))
    assert (exc.http_status, exc.code) == (400, "model_unavailable")


@responses.activate
def test_3018_says_the_protocol_constants_may_need_an_update(jimeng):
    exc = refused(jimeng, refusal("3018", "permission denied", data={"aigc_data": None, "fail_code": "1017"}))
    assert (exc.http_status, exc.code) == (502, "upstream_changed")
    assert "protocol constants" in exc.message and "JIMENG_DA_VERSION" in exc.message
    assert exc.extra["upstream_fail_code"] == "1017"


@responses.activate
def test_a_top_level_field_wins_over_the_same_field_under_data(jimeng):
    exc = refused(jimeng, refusal("4013", "x", top={"fail_starling_message": "top words"},
                                  data={"fail_starling_message": "data words"}))
    assert exc.message.endswith("top words")


@responses.activate
def test_a_session_id_echoed_in_a_starling_message_is_not_shown(jimeng):
    exc = refused(jimeng, refusal("4013", "x", top={"fail_starling_message": "bad sessionid=sess-secret-123"}))
    assert "sess-secret-123" not in exc.message


@pytest.mark.parametrize("fail_code, code", [
    ("4011", "content_rejected"), ("2043", "generation_failed"), ("2039", "insufficient_credits"),
    ("4013", "risk_control"), ("2038", "content_rejected"),
])
def test_failed_records_map_the_2026_fail_codes(fail_code, code):
    record = parse_record("1", failed_record("1", fail_code))
    assert record.failure[0] == code


def test_a_failed_record_carries_jimengs_own_message():
    raw = failed_record("1", "4011")
    raw["fail_starling_message"] = "素材中包含真人人脸"
    error_code, reason = parse_record("1", raw).failure
    assert error_code == "content_rejected" and "face" in reason and reason.endswith("素材中包含真人人脸")
