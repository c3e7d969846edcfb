"""One per-account key for every per-account cache and the browser context: Token.account_key."""
from app.jimeng.regions import parse_token


def test_the_account_key_names_one_session_in_one_region_and_hides_the_session_id():
    key = parse_token("sess-secret-1234").account_key
    assert key == parse_token("sess-secret-1234").account_key
    assert key != parse_token("us-sess-secret-1234").account_key          # same id, other region
    assert key != parse_token("sess-secret-1235").account_key
    assert b"sess-secret" not in key and "sess-secret" not in key.hex()
