"""The stateless pieces on their own: derived submit ids, body tags and digests, list cursors."""
import io
import uuid

import pytest

from app import errors
from app.jimeng.regions import parse_token
from app.services import idempotency as idem
from app.services.history_pages import decode_cursor, encode_cursor
from app.services.submitting import SubmitSettings
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId

SECRET = "unit-secret-0123456789"
FP_A, FP_B = b"A" * 8, b"B" * 8


def test_the_submit_id_is_a_uuid_fixed_by_key_account_and_secret():
    sid = idem.submit_id(SECRET, "k", FP_A)
    assert uuid.UUID(sid).version == 4
    assert sid == idem.submit_id(SECRET, "k", FP_A)
    assert len({sid, idem.submit_id(SECRET, "k", FP_B), idem.submit_id(SECRET, "k2", FP_A),
                idem.submit_id("another-secret-0123", "k", FP_A)}) == 4


def test_the_body_digest_reads_files_and_rewinds_them():
    stream = io.BytesIO(b"png bytes")
    one = idem.body_digest({"prompt": "a"}, [("image_file", None, stream)])
    assert stream.tell() == 0
    assert one == idem.body_digest({"prompt": "a"}, [("image_file", None, io.BytesIO(b"png bytes"))])
    assert one != idem.body_digest({"prompt": "a"}, [("image_file", None, io.BytesIO(b"other"))])
    assert one != idem.body_digest({"prompt": "b"}, [("image_file", None, io.BytesIO(b"png bytes"))])


def test_the_tag_is_found_only_in_a_record_made_from_the_same_body():
    sid = idem.submit_id(SECRET, "k", FP_A)
    tag = idem.tag(SECRET, sid, b"digest-1")
    record = {"metrics_extra": '{"originSubmitId":"%s"}' % tag}
    previous = idem.Previous(token=None, submit_id=sid, record=record)
    assert idem.same_body(previous, tag)
    assert not idem.same_body(previous, idem.tag(SECRET, sid, b"digest-2"))


@pytest.mark.parametrize("count, retried", [(None, False), ("0", False), ("1", True), ("x", False)])
def test_a_retry_is_what_the_client_says_it_is(count, retried):
    assert idem.IdempotencyKey.from_headers("k", count).retried is retried
    assert idem.IdempotencyKey.from_headers(None, count) is None


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ключ"])
def test_malformed_keys_are_refused(key):
    with pytest.raises(errors.InvalidRequest):
        idem.IdempotencyKey.from_headers(key, None)


def test_a_cursor_round_trips_and_refuses_tampering():
    cursor = encode_cursor(SECRET, FP_A, 123456789)
    assert decode_cursor(SECRET, cursor) == (FP_A, 123456789)
    assert decode_cursor("another-secret-0123", cursor) is None
    assert decode_cursor(SECRET, cursor[:-1] + ("A" if cursor[-1] != "A" else "B")) is None
    assert decode_cursor(SECRET, "page_" + "A" * 200) is None
    assert decode_cursor(SECRET, encode_cursor(SECRET, FP_A, 0)) is None   # 0 is "from the start", never a cursor


class _History:
    """A Jimeng client whose history lists `listed` (submit id -> record)."""

    def __init__(self, listed: dict | None = None) -> None:
        self.listed = listed or {}

    def history_by_ids(self, token, ids, id_field):
        return {i: self.listed[i] for i in ids if i in self.listed}


def _settings():
    return SubmitSettings(secret_key=SECRET, max_upload_bytes=1, fetch_timeout=1.0, clock=lambda: 1_770_000_000.0)


def test_one_claim_serves_both_kinds_and_image_ids_carry_the_count():
    token = parse_token("s")
    assert uuid.UUID(idem.claim("video", None, token, [token], _History(), _settings(), b"").submit_id)
    key = idem.IdempotencyKey("k", retried=True)
    sid = idem.submit_id(SECRET, "k", token.fingerprint(fingerprint_key(SECRET)))
    with pytest.raises(errors.IdempotencyConflict) as caught:   # a retry, not listed yet: the window
        idem.claim("image", key, token, [token], _History(), _settings(), b"body", count=4)
    window = TaskId.decode(caught.value.extra["task_id"], SECRET)
    assert (window.kind, window.count, window.id_type, window.upstream_id) == ("image", 4, "submit", sid)
    record = {"history_record_id": "123", "created_time": 1769999990.5,
              "draft_content": '{"id":"%s"}' % idem.tag(SECRET, sid, b"body")}
    found = idem.claim("image", key, token, [token], _History({sid: record}), _settings(), b"body", count=4)
    earlier = TaskId.decode(found.earlier_task_id, SECRET)
    assert (earlier.kind, earlier.count, earlier.upstream_id, found.earlier_created) == ("image", 4, "123", 1769999990)
