"""Shared state of the account pool and the API keys: one small interface, two backends.

In-process memory (default) is right for one worker; with `REDIS_URL` every worker on every host
shares Redis, and the one operation that must not race - taking a parallel slot under a limit -
is a Lua script, so two workers can never both take the last slot.

Slots are members of a set with an expiry each (a running task counts until it is seen finished
or its timeout passes); plain values have a time to live; counters count within a window.
Times are passed in by the caller, so tests move a clock instead of sleeping.
"""
from __future__ import annotations

import functools
import threading
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

    def put(self, key: str, value: str, ttl: float) -> None:
        """Store a value that disappears after `ttl` seconds."""

    def count(self, key: str, window: float) -> int:
        """Add one to a counter that starts at 0 and disappears `window` seconds after its first use."""

    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        """Set `key` only if it holds nothing (atomic): None when set, else the value it holds."""

    def drop(self, key: str, value: str) -> None:
        """Delete `key` only if it still holds `value` (atomic): a later owner's value stays."""


class MemoryState:
    """One process's memory: correct for one worker (gunicorn -w 1), not shared between workers."""

    def __init__(self, clock=None) -> None:
        import time
        self._clock = clock or time.time
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, float]] = {}
        self._values: dict[str, tuple[str, float]] = {}

    def take_slot(self, group: str, member: str, limit: int, expires_at: float, now: float) -> bool:
        with self._lock:
            members = self._live(group, now)
            if member not in members and len(members) >= limit:
                return False
            members[member] = expires_at
            return True

    def rename_slot(self, group: str, old: str, new: str, expires_at: float) -> None:
        with self._lock:
            members = self._groups.setdefault(group, {})
            members.pop(old, None)
            members[new] = expires_at

    def drop_slot(self, group: str, member: str) -> None:
        with self._lock:
            self._groups.get(group, {}).pop(member, None)

    def slots(self, group: str, now: float) -> list[str]:
        with self._lock:
            return list(self._live(group, now))

    def _live(self, group: str, now: float) -> dict[str, float]:
        members = self._groups.setdefault(group, {})
        for name in [m for m, expiry in members.items() if expiry <= now]:
            del members[name]
        return members

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._values.get(key)
            if item is None or item[1] <= self._clock():
                return None
            return item[0]

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._values[key] = (value, self._clock() + ttl)

    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        with self._lock:
            held = self._values.get(key)
            if held is not None and held[1] > self._clock():
                return held[0]
            self._values[key] = (value, self._clock() + ttl)
            return None

    def drop(self, key: str, value: str) -> None:
        with self._lock:
            if self._values.get(key, ("", 0.0))[0] == value:
                del self._values[key]

    def count(self, key: str, window: float) -> int:
        with self._lock:
            now = self._clock()
            value, expiry = self._values.get(key, ("0", 0.0))
            if expiry <= now:
                value, expiry = "0", now + window
            value = str(int(value) + 1)
            self._values[key] = (value, expiry)
            return int(value)


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
            raise StateUnavailable() from None
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
    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._k(key), value, px=max(int(ttl * 1000), 1))

    @_answer_503_when_down
    def count(self, key: str, window: float) -> int:
        return int(self._count(keys=[self._k(key)], args=[max(int(window * 1000), 1)]))

    @_answer_503_when_down
    def put_new(self, key: str, value: str, ttl: float) -> str | None:
        return self._put_new(keys=[self._k(key)], args=[value, max(int(ttl * 1000), 1)]) or None

    @_answer_503_when_down
    def drop(self, key: str, value: str) -> None:
        self._drop(keys=[self._k(key)], args=[value])


def shared_state(redis_url: str, clock=None) -> SharedState:
    """Redis when a URL is configured, else this process's memory."""
    return RedisState(redis_url) if redis_url else MemoryState(clock)
