"""Fixtures for the sandbox tests: a fake clock, the app on it, and a Jimeng-speaking client."""
import pytest

from sandbox import create_sandbox
from tests.sandbox.wire import ASSETS, FakeClock, Jimeng


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock):
    return create_sandbox({"clock": clock, "queue_seconds": 2, "generate_seconds": 4})


@pytest.fixture
def client(app):
    return app.test_client(use_cookies=False)   # each call sends its own Cookie header


@pytest.fixture
def jimeng(client, clock) -> Jimeng:
    return Jimeng(client, clock)


@pytest.fixture
def png() -> bytes:
    return (ASSETS / "sample.png").read_bytes()


@pytest.fixture
def mp4() -> bytes:
    return (ASSETS / "sample.mp4").read_bytes()
