"""Running the webhook engine's jobs in a test, by hand: what a consumer would run, without its
threads. Due times are the store's and follow the test's clock; huey's own timers are ignored."""
from __future__ import annotations

import datetime

import pytest
import responses

from tests.conftest import made_app
from sandbox.receiver import SECRET, running_receiver

FAR = datetime.datetime(2100, 1, 1)


def run_jobs(app, rounds: int = 1) -> int:
    """Run every job that is due on the test's clock, once per round (and what they queue at once);
    a job not yet due waits in the schedule, as huey would hold it until its time. How many ran."""
    hooks = app.extensions["webhooks"]
    huey = hooks.huey
    ran = 0
    for _ in range(rounds):
        for task in huey.read_schedule(FAR):
            huey.enqueue(task)
        later = []
        while (task := huey.dequeue()) is not None:
            now = app.extensions["clock"]()
            if task.name in ("webhooks.poll", "webhooks.deliver") and task.args[0] not in (
                    set(hooks.store.accounts_due(now + 1)) | set(hooks.store.deliveries_due(now + 1, 10_000))):
                later.append(task)
                continue
            huey.execute(task, timestamp=FAR)
            ran += 1
        for task in later:
            huey.add_schedule(task)
    return ran


def webhook_app(tmp_path, clock, **overrides):
    return made_app(clock, {"DATA_DIR": str(tmp_path), "WEBHOOK_SECRET": SECRET, "ALLOW_LOOPBACK_WEBHOOKS": True,
                            **overrides})


@pytest.fixture
def hook_app(tmp_path, clock):
    return webhook_app(tmp_path, clock)


@pytest.fixture
def receiver():
    """A real Standard Webhooks receiver on loopback."""
    with running_receiver() as running:
        yield running


@pytest.fixture
def jimeng(receiver):
    """Jimeng mocked at the HTTP boundary; the receiver's calls go through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(receiver.url.rsplit("/", 1)[0])
        yield rsps
