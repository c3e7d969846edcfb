import base64

import pytest

from app.jimeng.regions import parse_token
from app.services.tasks import fingerprint_key
from app.task_ids import MAX_LENGTH, VERSION, TaskId, is_raw_history_id
from tests.conftest import load_fixture

SECRET = "unit-test-secret-key-0123456789"


def make(**kw) -> TaskId:
    values = dict(kind="video", region="hk", upstream_id="4722540945676", submitted_at=1770000000,
                  token_fp=b"\x01" * 8)
    values.update(kw)
    return TaskId(**values)


def test_round_trip_keeps_every_field():
    tid = make()
    text = tid.encode(SECRET)
    assert TaskId.decode(text, SECRET) == tid
    assert len(text) <= MAX_LENGTH and text.replace("-", "").replace("_", "").isalnum()


def test_same_task_same_id():
    assert make().encode(SECRET) == make().encode(SECRET)


def test_submit_id_variant_round_trips():
    tid = make(upstream_id="8e7c0a51-1111-4222-8333-444455556666", id_type="submit", kind="image")
    assert TaskId.decode(tid.encode(SECRET), SECRET) == tid


def test_any_flipped_bit_is_rejected():
    raw = bytearray(base64.urlsafe_b64decode(make().encode(SECRET) + "=="))
    for i in range(len(raw)):
        tampered = bytearray(raw)
        tampered[i] ^= 0x01
        text = base64.urlsafe_b64encode(bytes(tampered)).rstrip(b"=").decode()
        assert TaskId.decode(text, SECRET) is None, f"byte {i}"


def test_an_id_made_under_another_key_is_rejected():
    assert TaskId.decode(make().encode("another-secret-key-xxxxxxxxxx"), SECRET) is None


def test_garbage_is_rejected():
    for text in ("", "abc", "!!!!", "a" * 200, "4722540945676"):
        assert TaskId.decode(text, SECRET) is None


def test_the_id_does_not_contain_the_token():
    text = make(token_fp=b"\x00" * 8).encode(SECRET)
    assert "secret" not in text


def test_raw_history_ids():
    assert is_raw_history_id("4722540945676")
    assert not is_raw_history_id("47225x") and not is_raw_history_id("") and not is_raw_history_id("١٢٣")


def test_other_spellings_of_a_valid_id_are_rejected():
    text = make().encode(SECRET)
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    bumped = text[:-1] + last[(last.index(text[-1]) + 1) % 64]
    for variant in (text + "=", text[:10] + "!!!!" + text[10:], bumped):
        assert TaskId.decode(variant, SECRET) is None, variant


def test_the_count_asked_for_round_trips():
    tid = make(kind="image", count=8)
    assert TaskId.decode(tid.encode(SECRET), SECRET).count == 8


def test_ids_without_a_count_decode_with_count_zero():
    assert TaskId.decode(make().encode(SECRET), SECRET).count == 0


LEGACY = load_fixture("task_ids_v1.json")


@pytest.mark.parametrize("made", LEGACY["ids"], ids=lambda m: f"{m['kind']}-{m['id_type']}-{m['region']}")
def test_ids_made_by_the_version_1_encoder_still_decode(made):
    fp = parse_token(made["token"]).fingerprint(fingerprint_key(LEGACY["secret_key"]))
    decoded = TaskId.decode(made["task_id"], LEGACY["secret_key"])
    assert decoded == TaskId(kind=made["kind"], region=made["region"], upstream_id=made["upstream_id"],
                             submitted_at=made["submitted_at"], token_fp=fp, id_type=made["id_type"],
                             count=made["count"], legacy_eta_seconds=made["eta_seconds"])


def test_a_tampered_version_1_id_is_rejected():
    text = LEGACY["ids"][0]["task_id"]
    raw = bytearray(base64.urlsafe_b64decode(text + "=="))
    raw[6] ^= 0x01     # inside the old forecast field
    assert TaskId.decode(base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode(), LEGACY["secret_key"]) is None


def test_new_ids_hold_no_forecast_and_are_version_2():
    text = make().encode(SECRET)
    assert VERSION == 2 and base64.urlsafe_b64decode(text + "==")[0] == 2
    assert TaskId.decode(text, SECRET).legacy_eta_seconds == 0
    with pytest.raises(ValueError):
        make(legacy_eta_seconds=300).encode(SECRET)

