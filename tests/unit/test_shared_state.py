"""Both shared-state backends behave the same (the host's SQLite store and a real redis-server)."""
from __future__ import annotations

import threading


def test_a_slot_is_taken_only_under_the_limit(shared_state, clock):
    now = clock()
    assert shared_state.take_slot("acct:a", "t1", 2, now + 100, now)
    assert shared_state.take_slot("acct:a", "t2", 2, now + 100, now)
    assert not shared_state.take_slot("acct:a", "t3", 2, now + 100, now)
    assert sorted(shared_state.slots("acct:a", now)) == ["t1", "t2"]


def test_taking_the_same_member_again_is_not_a_second_slot(shared_state, clock):
    now = clock()
    assert shared_state.take_slot("g", "t1", 1, now + 100, now)
    assert shared_state.take_slot("g", "t1", 1, now + 200, now)
    assert shared_state.slots("g", now) == ["t1"]


def test_expired_slots_free_their_place(shared_state, clock):
    now = clock()
    assert shared_state.take_slot("g", "old", 1, now + 10, now)
    assert not shared_state.take_slot("g", "new", 1, now + 100, now + 5)
    assert shared_state.take_slot("g", "new", 1, now + 100, now + 11)
    assert shared_state.slots("g", now + 11) == ["new"]


def test_rename_and_drop(shared_state, clock):
    now = clock()
    shared_state.take_slot("g", "reservation", 1, now + 10, now)
    shared_state.rename_slot("g", "reservation", "task-42", now + 1000)
    assert shared_state.slots("g", now + 500) == ["task-42"]
    shared_state.drop_slot("g", "task-42")
    assert shared_state.slots("g", now) == []


def test_values_and_counters(shared_state):
    assert shared_state.get("missing") is None
    shared_state.put("k", "v", 60)
    assert shared_state.get("k") == "v"
    assert [shared_state.count("c", 60) for _ in range(3)] == [1, 2, 3]


def test_many_values_in_one_call(shared_state):
    shared_state.put_many([("a", "1", 60), ("b", "2", 60)])
    shared_state.put("c", "3", 60)
    assert shared_state.get_many(["a", "missing", "c", "a"]) == {"a": "1", "c": "3"}
    assert shared_state.get_many([]) == {}
    shared_state.put_many([])


def test_put_new_keeps_the_first_value_and_drop_only_removes_its_own(shared_state):
    assert shared_state.put_new("claim", "first", 60) is None
    assert shared_state.put_new("claim", "second", 60) == "first"
    shared_state.drop("claim", "second")          # not its value: stays
    assert shared_state.get("claim") == "first"
    shared_state.drop("claim", "first")
    assert shared_state.get("claim") is None
    assert shared_state.put_new("claim", "second", 60) is None


def winners(attempt, count: int = 20) -> list[int]:
    """Run `attempt(i)` for i in range(count) on as many threads at once; the i that returned True."""
    won = []
    lock = threading.Lock()

    def run(i):
        if attempt(i):
            with lock:
                won.append(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won


def test_concurrent_put_new_has_one_winner(shared_state):
    won = winners(lambda i: shared_state.put_new("race", f"r{i}", 60) is None)
    assert len(won) == 1 and shared_state.get("race") == f"r{won[0]}"


def test_concurrent_takers_never_exceed_the_limit(shared_state, clock):
    now = clock()
    assert len(winners(lambda i: shared_state.take_slot("busy", f"t{i}", 3, now + 100, now))) == 3
    assert len(shared_state.slots("busy", now)) == 3


def test_redis_out_of_reach_is_a_503_not_a_500():
    import pytest

    from app.errors import StateUnavailable
    from app.state.shared import RedisState
    from sandbox.stack import free_ports

    state = RedisState(f"redis://127.0.0.1:{free_ports(1)[0]}/0")   # nothing listens there
    with pytest.raises(StateUnavailable) as err:
        state.take_slot("g", "m", 1, 10.0, 0.0)
    assert err.value.http_status == 503
