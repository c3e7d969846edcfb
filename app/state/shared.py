"""Shared state: Idempotency-Key markers, the account pool's counts, rate counters, HD links.

One small interface, two backends. By default an SQLite file under DATA_DIR (app/state/sqlite.py)
shared by every worker of the host; with `REDIS_URL`, Redis, shared by every worker of every host.
Each operation that must not race (set-if-absent, delete-if-mine, a slot under a limit, a count
in a window) is atomic in both: one transaction there, one Lua script here.

Slots are members of a set with an expiry each (a running task counts until it is seen finished
or its timeout passes); plain values have a time to live; counters count within a window.
Slot times are passed in by the caller; the SQLite store times values on the app's clock too (tests
move it instead of sleeping), Redis on its own.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Protocol

from app.errors import StateUnavailable


class SharedState(Protocol):
    def take_slot(self, group: str, member: str, limit: int, expires_at: float, now: float) -> bool:
        """Add `member` to `group` if fewer than `limit` unexpired members are in it (atomic)."""

    def rename_slot(self, group: str, old: str, new: str, expires_at: float) -> None:
        """Replace a member (a reservation becomes the task it turned into)."""

    def drop_slot(self, group: str, member: str) -> None: ...

    def slots(self, group: str, now: float) -> list[str]:
        """The unexpired members of a group."""

    def get(self, key: str) -> str | None: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The keys that hold a value, with it (one round trip)."""

    def put(self, key: str, value: str, ttl: float) -> None:
        """Store a value that disappears after `ttl` seconds."""

    def put_many(self, items: Iterable[tuple[str, str, float]]) -> None:
        """put() for each (key, value, ttl), in one round trip."""

    def count(self, key: str, window: float) -> int:
        """Add one to a counter that starts at 0 and disappears `window` seconds after its first use."""

    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        """Set `key` only if it holds nothing (atomic): None when set, else the value it holds."""

    def drop(self, key: str, value: str) -> None:
        """Delete `key` only if it still holds `value` (atomic): a later owner's value stays."""

    def check(self) -> None:
        """Raise StateUnavailable unless the store can be written now (/healthz asks)."""


# KEYS[1] the group (a sorted set scored by expiry); ARGV now, limit, member, expires_at.
_TAKE_SLOT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1
"""
# KEYS[1] the counter; ARGV window in milliseconds. The expiry is set once, by the first count.
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS[1]; ARGV value, ttl in milliseconds. Returns the value held, or false once set.
_PUT_NEW = """
local held = redis.call('GET', KEYS[1])
if held then return held end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""
# KEYS[1]; ARGV value. Deletes only the value this caller wrote.
_DROP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _answer_503_when_down(method):
    """Redis down or unreachable: a clear 503, never a 500 (and no half-taken slot: each call is one step)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        import redis

        try:
            return method(self, *args, **kwargs)
        except redis.RedisError:
            raise StateUnavailable("the service's shared state (Redis, REDIS_URL) cannot be reached; "
                                   "retry later") from None
    return call


class RedisState:
    """Redis (`REDIS_URL`): every worker on every host sees the same counts, cooldowns and balances."""

    def __init__(self, url: str, prefix: str = "jimeng-api:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5,
                                           socket_connect_timeout=5)
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE_SLOT)
        self._count = self._redis.register_script(_COUNT)
        self._put_new = self._redis.register_script(_PUT_NEW)
        self._drop = self._redis.register_script(_DROP)

    def _k(self, key: str) -> str:
        return self._prefix + key

    @_answer_503_when_down
    def take_slot(self, group: str, member: str, limit: int, expires_at: float, now: float) -> bool:
        return bool(self._take(keys=[self._k(group)], args=[now, limit, member, expires_at]))

    @_answer_503_when_down
    def rename_slot(self, group: str, old: str, new: str, expires_at: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.zrem(self._k(group), old)
        pipe.zadd(self._k(group), {new: expires_at})
        pipe.execute()

    @_answer_503_when_down
    def drop_slot(self, group: str, member: str) -> None:
        self._redis.zrem(self._k(group), member)

    @_answer_503_when_down
    def slots(self, group: str, now: float) -> list[str]:
        return list(self._redis.zrangebyscore(self._k(group), f"({now}", "+inf"))

    @_answer_503_when_down
    def get(self, key: str) -> str | None:
        return self._redis.get(self._k(key))

    @_answer_503_when_down
    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(dict.fromkeys(keys))
        values = self._redis.mget([self._k(k) for k in keys]) if keys else []
        return {k: v for k, v in zip(keys, values) if v is not None}

    @_answer_503_when_down
    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._k(key), value, px=max(int(ttl * 1000), 1))

    @_answer_503_when_down
    def put_many(self, items: Iterable[tuple[str, str, float]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for key, value, ttl in items:
            pipe.set(self._k(key), value, px=max(int(ttl * 1000), 1))
        pipe.execute()

    @_answer_503_when_down
    def count(self, key: str, window: float) -> int:
        return int(self._count(keys=[self._k(key)], args=[max(int(window * 1000), 1)]))

    @_answer_503_when_down
    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        return self._put_new(keys=[self._k(key)], args=[value, max(int(ttl * 1000), 1)]) or None

    @_answer_503_when_down
    def drop(self, key: str, value: str) -> None:
        self._drop(keys=[self._k(key)], args=[value])

    @_answer_503_when_down
    def check(self) -> None:
        self._redis.ping()


def shared_state_for(redis_url: str, data_dir: str, clock=None) -> SharedState:
    """Redis when a URL is configured (several hosts), else the host's own store under DATA_DIR."""
    if redis_url:
        return RedisState(redis_url)
    from app.state.sqlite import SqliteState
    return SqliteState(data_dir, clock)
