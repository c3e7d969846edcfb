"""Issue 21, section 2: a session id Jimeng echoes in another form (letter case, URL-encoded, base64)
is masked in the answer and in the logs; our own help text is not "masked" into nonsense."""
from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest
import responses

from app.factory import create_app
from app.serving.logs import ContextFilter
from tests.api.helpers import auth
from tests.api.test_company import ACCOUNTS, KEYS
from tests.jimeng_fakes import GENERATE_URL, envelope

SESSION = "0F3c2A9b8d7E6f5a4B3c2d1e0f9a8b7C+/x"   # mixed case, and characters URL-encoding changes


def plain(form: str) -> tuple[str, int, int]:
    return form, 0, len(form)


def b64(before: str, after: str = "", alphabet=base64.b64encode) -> tuple[str, int, int]:
    """`SESSION` between two texts, base64-encoded; with where its characters lie in the encoding."""
    form = alphabet(f"{before}{SESSION}{after}".encode()).decode()
    return form, len(before) * 4 // 3, -(-(len(before) + len(SESSION)) * 4 // 3)


FORMS = {
    "lower": plain(SESSION.lower()),
    "upper": plain(SESSION.upper()),
    "url-encoded": plain(quote(SESSION, safe="")),
    "url-encoded-lower-hex": plain(quote(SESSION, safe="").replace("%2B", "%2b").replace("%2F", "%2f")),
    "base64": b64(""),
    "base64-in-a-cookie": b64("sessionid=", "; path=/"),
    "base64-offset-1": b64("x", "y"),
    "base64-offset-2": b64("xy"),
    "base64-urlsafe": b64("uid=7;", alphabet=base64.urlsafe_b64encode),
}
WINDOW = 10   # base64's first and last groups also carry the bytes around the secret: those may stay


def shows_the_secret(text: str, form: tuple[str, int, int]) -> bool:
    """Does any run of WINDOW characters of the secret's part of the echoed form survive in `text`?"""
    echoed, start, end = form
    return any(echoed[i:i + WINDOW] in text for i in range(start, max(end - WINDOW, start) + 1))


@pytest.fixture
def filtered_caplog(caplog):
    """caplog with the service's own log filter applied as lines are written (as in production)."""
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.DEBUG):
        yield caplog
    caplog.handler.removeFilter(caplog.handler.filters[-1])


@responses.activate
@pytest.mark.parametrize("name", list(FORMS))
def test_a_session_id_echoed_in_another_form_is_masked_in_the_502_and_the_logs(client, filtered_caplog, name):
    form = FORMS[name]
    responses.post(GENERATE_URL, json=envelope(None, ret="5001", errmsg=f"bad session {form[0]} (code 7)"))

    resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth(SESSION))

    body = resp.get_data(as_text=True)
    assert resp.status_code == 502 and "[redacted]" in body, body
    assert not shows_the_secret(body, form), body
    lines = [r.getMessage() for r in filtered_caplog.records]
    assert any("request failed" in line for line in lines)
    assert not [line for line in lines if shows_the_secret(line, form)]


def test_the_help_text_of_a_missing_token_is_not_masked(client):
    resp = client.post("/v1/videos/generations", json={"prompt": "x"})

    error = resp.get_json()["error"]
    assert resp.status_code == 401 and error["code"] == "missing_token"
    assert "Bearer <sessionid>" in error["message"] and "[redacted]" not in error["message"], error


def test_the_help_text_of_a_missing_api_key_is_not_masked(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KEYS))
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS))
    app = create_app({"JIMENG_UPSTREAM_URL": "http://jimeng.test", "API_KEYS_FILE": str(keys),
                      "JIMENG_ACCOUNTS_FILE": str(accounts)})

    error = app.test_client().post("/v1/videos/generations", json={"prompt": "x"}).get_json()["error"]

    assert "Bearer <api key>" in error["message"] and "[redacted]" not in error["message"], error
