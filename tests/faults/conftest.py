"""The service (in-process) against the sandbox behind a fault-injecting upstream."""
from __future__ import annotations

import secrets

import pytest

from app.factory import create_app
from tests.fault_upstream import running_faulty_upstream

DEADLINE = 1.0          # JIMENG_TIMEOUT for these tests, seconds
SLACK = 4.0             # generous: the answer must come within DEADLINE * calls + SLACK
# What test_fuzz.py sent and got, shown in the terminal summary (plain `pytest -q` too).
FUZZ_SEEN: dict = {"cases": 0, "server_errors": 0, "by_status": {}, "by_mode": {}}


@pytest.fixture(scope="module")
def upstream():
    with running_faulty_upstream({"queue_seconds": 0, "generate_seconds": 0}) as running:
        yield running


@pytest.fixture
def service(upstream):
    # The live catalogue is on, as in production: each submit reads get_common_config first.
    app = create_app({"JIMENG_UPSTREAM_URL": upstream.url, "JIMENG_TIMEOUT": DEADLINE,
                      "JIMENG_CONNECT_TIMEOUT": DEADLINE, "ALLOW_LOOPBACK_MEDIA": True, "FETCH_TIMEOUT": 5.0,
                      "LIVE_CATALOGUE": True})
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app.test_client()


@pytest.fixture
def token() -> str:
    return f"fault-session-{secrets.token_hex(6)}"


@pytest.fixture(autouse=True)
def no_leftover_faults(upstream):
    yield
    upstream.clear()


def pytest_terminal_summary(terminalreporter):
    if FUZZ_SEEN["cases"]:
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(FUZZ_SEEN["by_status"].items()))
        terminalreporter.write_sep("-", "schemathesis fuzz")
        modes = ", ".join(f"{mode} {n}" for mode, n in FUZZ_SEEN["by_mode"].items())
        terminalreporter.write_line(f"{FUZZ_SEEN['cases']} requests ({modes}); answers >= 500: "
                                    f"{FUZZ_SEEN['server_errors']}; statuses {statuses}")
