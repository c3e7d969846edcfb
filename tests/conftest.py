"""Shared fixtures: the app built by the factory, its test client, a controllable clock, real fixtures."""
from __future__ import annotations

import json
import pathlib

import pytest

from app.factory import create_app

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"     # vendored upstream samples (SOURCES.md)
UPSTREAM = "http://jimeng.test"


class Clock:
    """A clock tests move by hand (no sleeps for time-based states)."""

    def __init__(self, now: float = 1_770_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def load_fixture(name: str) -> dict:
    """A vendored upstream sample. A missing one is an error, never a skip: the files ship with the tests."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """Every app a test builds keeps its shared state under the test's own DATA_DIR (apps built in one
    test share it, as the workers of one host do)."""
    path = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(path))
    return path


def made_app(clock, overrides: dict | None = None, *, shared_state=None):
    """An app of the factory against the fake upstream, on the test's clock, never sleeping;
    `shared_state` in place of the store its configuration names."""
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, **(overrides or {})}, shared_state=shared_state)
    app.extensions["clock"] = clock
    client = app.extensions["jimeng_client"]
    client.clock = clock
    client.sleep = lambda s: None
    return app


@pytest.fixture
def app(clock):
    return made_app(clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def redis_url():
    """One real redis-server for the whole run (started on a free port, stopped at the end)."""
    from tests.redis_server import running_redis

    with running_redis() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def shared_state(request, clock, data_dir):
    """The shared state: each test using it runs against both backends (the host's SQLite store, the
    default; Redis). A test that moves the clock past a value's time to live asks for "sqlite" only
    (indirect parametrisation): Redis expires values on its own clock."""
    from app.state.shared import RedisState
    from app.state.sqlite import SqliteState

    if request.param == "sqlite":
        return SqliteState(str(data_dir), clock)
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return RedisState(url)
