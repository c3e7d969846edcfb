"""The API keeps no Flask cookie session: a session cookie a client sends is neither read nor answered."""
import flask
import pytest
from itsdangerous import URLSafeTimedSerializer


def test_a_session_cookie_changes_nothing(client, app):
    plain = client.get("/healthz")
    forged = URLSafeTimedSerializer(app.secret_key, salt="cookie-session").dumps({"admin": True})
    client.set_cookie("session", forged)
    with_cookie = client.get("/healthz")
    assert with_cookie.status_code == plain.status_code == 200
    assert with_cookie.get_json() == plain.get_json()
    assert "Set-Cookie" not in with_cookie.headers
    assert "Cookie" not in with_cookie.headers.get("Vary", "")


def test_no_code_can_store_anything_in_a_session(app):
    with app.test_request_context("/healthz", headers={"Cookie": "session=anything"}):
        app.preprocess_request()
        assert not flask.session
        with pytest.raises(RuntimeError):
            flask.session["x"] = 1
