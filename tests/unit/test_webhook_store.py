"""The webhook store's atomic steps, each run against both backends (the engine's SQLite file and Redis)."""
from __future__ import annotations

import threading

import pytest

from app.webhooks.store import Delivery, RedisStore, SqliteStore, Watch

NOW = 1_770_000_000.0
KEEP = NOW + 86400


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, clock):
    if request.param == "sqlite":
        from huey import SqliteHuey

        return SqliteStore(SqliteHuey("t", filename=str(tmp_path / "w.db")).storage)
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return RedisStore(url, clock)


def watch(key="k1", account="acct") -> Watch:
    return Watch(key=key, account=account, kind="video", task_id=f"id-{key}", family="tasks",
                 url="https://example.com/h", events=("video.completed", "video.failed"), region="cn",
                 submitted_at=NOW, deadline=NOW + 3600)


def delivery(key="k1") -> Delivery:
    return Delivery(event_id=f"evt_{key}", task_key=key, event_type="video.completed", url="https://example.com/h",
                    host="example.com", body="{}", created_at=NOW)


PENDING = {"host": "example.com", "status": "pending", "attempts": 0, "last_status": None}


def test_a_task_is_watched_once_even_when_registered_again(store):
    assert store.add_watch(watch(), PENDING, NOW + 10, KEEP) is True
    assert store.add_watch(watch(), PENDING, NOW + 10, KEEP) is False
    assert [w.key for w in store.watches("acct")] == ["k1"]
    assert store.statuses(["k1", "other"]) == {"k1": PENDING}


def test_an_account_poll_is_claimed_by_one_holder_until_its_lease_ends(store):
    store.add_watch(watch(), PENDING, NOW + 10, KEEP)
    assert store.claim_account("acct", "a", NOW, 60) is False            # not due
    assert store.claim_account("acct", "a", NOW + 10, 60) is True
    assert store.claim_account("acct", "b", NOW + 10, 60) is False       # held
    assert store.claim_account("acct", "b", NOW + 71, 60) is True        # the holder died: taken up


def test_concurrent_claims_let_exactly_one_through(store):
    store.add_watch(watch(), PENDING, NOW, KEEP)
    won = []

    def claim(name):
        if store.claim_account("acct", name, NOW, 60):
            won.append(name)

    threads = [threading.Thread(target=claim, args=(f"c{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_release_sets_the_next_poll_and_forgets_an_empty_account(store):
    store.add_watch(watch(), PENDING, NOW, KEEP)
    store.claim_account("acct", "a", NOW, 60)
    assert store.release_account("acct", "a", NOW + 30) is True
    assert store.accounts_due(NOW + 29) == [] and store.accounts_due(NOW + 30) == ["acct"]
    store.end_watch(watch(), None, None, KEEP, NOW)
    store.claim_account("acct", "a", NOW + 30, 60)
    assert store.release_account("acct", "a", NOW + 60) is False
    assert store.accounts_due(NOW + 1000) == []


def test_a_watch_ends_once_with_one_delivery(store):
    store.add_watch(watch(), PENDING, NOW, KEEP)
    assert store.end_watch(watch(), delivery(), PENDING, KEEP, NOW) is True
    assert store.end_watch(watch(), delivery(), PENDING, KEEP, NOW) is False
    assert store.watches("acct") == [] and store.deliveries_due(NOW, 10) == ["evt_k1"]
    assert store.backlog() == (0, 1, NOW)


def test_a_delivery_is_claimed_once_and_rescheduled_by_its_holder_only(store):
    store.add_watch(watch(), PENDING, NOW, KEEP)
    store.end_watch(watch(), delivery(), PENDING, KEEP, NOW)
    item = store.claim_delivery("evt_k1", "a", NOW, 30)
    assert item is not None and store.claim_delivery("evt_k1", "b", NOW, 30) is None
    item.attempts, item.last_status = 1, 500
    store.finish_attempt(item, "b", None, item.state("delivered"), KEEP)        # not its holder: nothing
    assert store.statuses(["k1"])["k1"]["status"] == "pending"
    store.finish_attempt(item, "a", NOW + 5, item.state("retrying"), KEEP)
    assert store.statuses(["k1"])["k1"] == {"host": "example.com", "status": "retrying", "attempts": 1,
                                           "last_status": 500}
    assert store.claim_delivery("evt_k1", "c", NOW + 1, 30) is None            # not due yet
    again = store.claim_delivery("evt_k1", "c", NOW + 5, 30)
    assert again.attempts == 1
    store.finish_attempt(again, "c", None, again.state("delivered"), KEEP)
    assert store.deliveries_due(NOW + 1000, 10) == [] and store.backlog() == (0, 0, None)
    assert store.statuses(["k1"])["k1"]["status"] == "delivered"


def test_a_watch_ended_without_an_event_forgets_its_status(store):
    store.add_watch(watch(), PENDING, NOW, KEEP)
    store.end_watch(watch(), None, None, KEEP, NOW)
    assert store.statuses(["k1"]) == {} and store.deliveries_due(NOW + 10, 10) == []


@pytest.mark.parametrize("made_before", [False, True], ids=["new", "made-0644-by-an-older-version"])
def test_the_engine_file_and_its_wal_are_private(tmp_path, clock, made_before):
    import os
    import stat

    from tests.webhook_jobs import webhook_app

    data = tmp_path / "data"
    old = os.umask(0o022)
    try:
        if made_before:
            data.mkdir()
            from huey import SqliteHuey
            SqliteHuey("x", filename=str(data / "webhooks.db")).storage.sql("select 1")
        hooks = webhook_app(data, clock).extensions["webhooks"]
        hooks.sweep()                                    # opens the engine and writes (the WAL appears)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir() if p.name.startswith("webhooks.db")}
    assert modes == {"webhooks.db": 0o600, "webhooks.db-wal": 0o600, "webhooks.db-shm": 0o600}
