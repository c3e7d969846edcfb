"""`make try`, `make serve` and `make sandbox` say which setting to change when a port is taken."""
from __future__ import annotations

import socket

import pytest

from sandbox import try_it
from sandbox.stack import HOST, require_free_port


def test_a_taken_port_names_the_setting_that_moves_it():
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            require_free_port(port, "SANDBOX_PORT")
    assert f"port {port}" in str(stopped.value) and "SANDBOX_PORT=" in str(stopped.value)


def test_make_try_refuses_a_busy_service_port_before_starting_anything():
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        with pytest.raises(SystemExit) as stopped:
            try_it.main(["--port", str(taken.getsockname()[1])])
    assert "PORT=" in str(stopped.value)


def test_the_instructions_name_the_service_the_sandbox_and_the_token_to_export():
    text = try_it._instructions("http://127.0.0.1:8000", "http://127.0.0.1:8701", "try-session-ab")
    assert "export JIMENG_API_URL=http://127.0.0.1:8000 JIMENG_TOKEN=try-session-ab" in text
    assert "sandbox (our fake Jimeng, behind it):   http://127.0.0.1:8701" in text


def test_make_try_signs_webhooks_with_a_fresh_valid_secret_and_allows_loopback_receivers():
    from app.webhooks.signing import secret_problem

    first, second = try_it.webhook_settings(), try_it.webhook_settings()
    assert not secret_problem(first["WEBHOOK_SECRET"], "WEBHOOK_SECRET")
    assert first["WEBHOOK_SECRET"] != second["WEBHOOK_SECRET"]
    assert first["ALLOW_LOOPBACK_WEBHOOKS"] == "1"
    text = try_it._instructions("http://127.0.0.1:8000", "http://127.0.0.1:8701", "t", first["WEBHOOK_SECRET"])
    assert f"WEBHOOK_SECRET={first['WEBHOOK_SECRET']}" in text
