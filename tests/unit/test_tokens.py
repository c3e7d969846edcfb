import pytest

from app import errors
from app.api.authorization import parse_authorization
from app.jimeng.regions import parse_token


@pytest.mark.parametrize("raw,region,sid", [
    ("abc", "cn", "abc"), ("us-abc", "us", "abc"), ("HK-abc", "hk", "abc"), ("jp-x", "jp", "x"),
    ("sg-y", "sg", "y"), ("usabc", "cn", "usabc"),
])
def test_region_prefix(raw, region, sid):
    token = parse_token(raw)
    assert (token.region.code, token.session_id, token.proxy) == (region, sid, None)


def test_proxy_prefix_splits_at_the_last_at_sign():
    token = parse_token("socks5://user:pw@10.0.0.1:1080@us-sess")
    assert token.proxy == "socks5://user:pw@10.0.0.1:1080"
    assert (token.region.code, token.session_id) == ("us", "sess")


def test_an_at_sign_at_the_end_is_a_plain_token():
    # protocol 1.1: a last "@" at the end (or at position 0) means no proxy part
    assert (parse_token("http://proxy@").session_id, parse_token("http://proxy@").proxy) == ("http://proxy@", None)
    assert parse_token("abc@def").session_id == "abc@def"


def test_malformed_token_is_a_400():
    with pytest.raises(errors.InvalidRequest):
        parse_token("a b")


def test_several_tokens_and_bearer_prefix():
    tokens = parse_authorization("Bearer a, us-b ,c")
    assert [t.session_id for t in tokens] == ["a", "b", "c"]


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer ,,"])
def test_missing_token_is_401(header):
    with pytest.raises(errors.MissingToken):
        parse_authorization(header)


def test_token_repr_hides_the_session_id():
    token = parse_token("us-supersecret")
    assert "supersecret" not in repr(token) and "supersecret" not in str(token)


def test_too_many_tokens_is_a_400():
    with pytest.raises(errors.InvalidRequest):
        parse_authorization("Bearer " + ",".join(f"t{i}" for i in range(11)))
    assert len(parse_authorization("Bearer " + ",".join(f"t{i}" for i in range(10)))) == 10


@pytest.mark.parametrize("raw", ["abc雪", "ab\x00c", "a\tb"])
def test_tokens_must_be_printable_ascii(raw):
    with pytest.raises(errors.InvalidRequest):
        parse_token(raw)
