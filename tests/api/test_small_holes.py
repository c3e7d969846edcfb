"""Issue 8, hole 6 (the smaller ones) as a user or an operator sees them. Each test failed before its fix."""
from __future__ import annotations

import logging

import pytest
import responses

from app.serving.logs import ContextFilter
from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, envelope

SESSION = "0f3c2a9b8d7e6f5a4b3c2d1e0f9a8b7c"


@pytest.fixture
def filtered_caplog(caplog):
    """caplog with the service's own log filter applied as lines are written (as in production)."""
    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.DEBUG):
        yield caplog
    caplog.handler.removeFilter(caplog.handler.filters[-1])


@responses.activate
@pytest.mark.parametrize("errmsg", [f"session {SESSION} is not allowed", f"bad cookie: {SESSION}",
                                    f"uid={SESSION[:8]} sid {SESSION}"])
def test_a_session_id_that_jimeng_echoes_bare_is_redacted_in_the_answer_and_the_logs(client, filtered_caplog,
                                                                                     errmsg):
    responses.post(GENERATE_URL, json=envelope(None, ret="5001", errmsg=errmsg))

    resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth(SESSION))

    assert resp.status_code == 502
    assert SESSION not in resp.get_data(as_text=True)
    lines = [r.getMessage() for r in filtered_caplog.records]
    assert any("request failed" in line for line in lines)
    assert not [line for line in lines if SESSION in line]


@pytest.mark.parametrize("path", ["/v1/videos/tasks/AQBpgA6A/SwADTQ3", "/v1/videos/tasks/a/b/c",
                                  "/v1/videos/tasks/AQBp+gA6A/SwA/content"])
def test_a_standard_base64_task_id_with_a_slash_is_task_not_found(client, path):
    resp = client.get(path, headers=auth("sess"))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"


def test_the_access_log_names_the_path_of_unmatched_routes(client, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get("/no/such/route?x=1")
    record = next(r for r in caplog.records if r.name == "app.access")
    assert record.route == "unmatched" and record.path == "/no/such/route"


@responses.activate
def test_submit_and_status_lines_carry_the_short_task_id(client, caplog):
    from tests.jimeng_fakes import HISTORY_URL, generate_answer, queued_record
    responses.post(GENERATE_URL, json=generate_answer("4722540945676"))
    responses.post(HISTORY_URL, json=envelope({"4722540945676": queued_record()}))
    with caplog.at_level(logging.INFO):
        task_id = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess")).get_json()["task_id"]
        client.get(f"/v1/videos/tasks/{task_id}", headers=auth("sess"))

    short = task_id[-12:]
    submitted = [r for r in caplog.records if r.getMessage() == "video submitted"]
    status = [r for r in caplog.records if r.getMessage() == "task state"]
    assert submitted and submitted[0].task == short
    assert status and status[0].task == short and status[0].task_status == "pending"
