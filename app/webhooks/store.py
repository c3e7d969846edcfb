"""Durable webhook records, kept in the task engine's own storage: its SQLite file under DATA_DIR,
or the Redis of REDIS_URL. Every host and process sees the same records, and a restart (even a
kill -9 of every process) loses none of them.

- a watch: a task whose end is awaited (grouped by account, each account with its next poll time);
- a delivery: an event to send, with its next attempt time, until a 2xx or gave_up;
- a status per task: what a query shows as `webhook`.

The engine's messages only say "poll this account" or "deliver this event"; these records are the
truth, so a message lost with a killed consumer is re-sent by the sweep (app/webhooks/engine.py).
Every step that two consumers could race on is one atomic operation: claiming an account's poll or a
delivery (a lease with an expiry, so a crashed holder's work is taken up again), and ending a watch
(it ends once: one event per task). Times come from the caller, so tests move a clock.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

from app.webhooks.availability import check_writable

# A claim's due time may be this much in the future: the engine's scheduler runs a job at its time
# or a little after, and hosts' clocks differ a little.
DUE_TOLERANCE = 1.0


@dataclass(frozen=True)
class Watch:
    key: str                  # the task's identity (registration.task_key)
    account: str              # whose history it is read from: a digest or "pool:<label>", never a secret
    kind: str                 # video | image
    task_id: str              # as the submit answered it
    family: str               # the route family that submitted it: tasks | openai_videos
    url: str
    events: tuple[str, ...]
    region: str
    submitted_at: float
    deadline: float           # past it an unfinished task fails with `timeout`
    api_key: str = ""         # company mode: the key's name (its task id secret, its webhook secret)
    pool_account: str = ""    # company mode: the pool account's label (the pool holds its session)
    sealed_token: str = ""    # personal mode: the session (and its proxy), sealed (app/webhooks/sealed.py)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> Watch:
        data = json.loads(text)
        data["events"] = tuple(data["events"])
        return cls(**data)


@dataclass
class Delivery:
    event_id: str             # also the webhook-id header: the same on every attempt
    task_key: str
    event_type: str
    url: str
    host: str
    body: str                 # the exact JSON signed and sent, the same on every attempt
    created_at: float
    api_key: str = ""
    attempts: int = 0
    last_status: int | None = None
    extra: dict = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> Delivery:
        return cls(**json.loads(text))

    def state(self, status: str) -> dict:
        """The `webhook` object a query shows."""
        return {"host": self.host, "status": status, "attempts": self.attempts, "last_status": self.last_status}


class WebhookStore(Protocol):
    def add_watch(self, watch: Watch, status: dict, first_poll_at: float, keep_until: float) -> bool:
        """Watch a task unless it was ever registered (an idempotent replay): True when added."""

    def watch(self, key: str) -> Watch | None: ...

    def claim_account(self, account: str, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the account's poll if it is due and nobody holds it."""

    def watches(self, account: str) -> list[Watch]: ...

    def release_account(self, account: str, owner: str, next_poll_at: float) -> bool:
        """Give the poll back with its next time; False when the account has nothing left to watch."""

    def end_watch(self, watch: Watch, delivery: Delivery | None, status: dict | None, keep_until: float,
                  now: float) -> bool:
        """Stop watching and queue its delivery (None: no event was asked for this end), atomically;
        False when the watch had already ended."""

    def claim_delivery(self, event_id: str, owner: str, now: float, lease_seconds: float) -> Delivery | None: ...

    def finish_attempt(self, delivery: Delivery, owner: str, next_at: float | None, status: dict,
                       keep_until: float) -> None:
        """Record an attempt: the next one at `next_at`, or none (delivered or gave_up)."""

    def accounts_due(self, before: float, now: float | None = None) -> list[str]:
        """Accounts whose poll was due by `before` and that nobody holds at `now` (default: before)."""

    def deliveries_due(self, before: float, limit: int, now: float | None = None) -> list[str]: ...

    def statuses(self, keys: list[str]) -> dict[str, dict]: ...

    def backlog(self) -> tuple[int, int, float | None]:
        """(watched tasks, deliveries not yet ended, creation time of the oldest of them)."""

    def purge(self, now: float) -> None:
        """Forget statuses past their keep time."""

    def check(self) -> None:
        """Raise unless records can be written now (its own error: sqlite3's or redis's)."""


class SqliteStore:
    """Tables in the engine's SQLite file, written through the engine's own connection and lock."""

    DDL = (
        "create table if not exists webhook_watch (key text primary key, account text not null, "
        "body text not null)",
        "create index if not exists webhook_watch_account on webhook_watch (account)",
        "create table if not exists webhook_account (account text primary key, next_poll_at real not null, "
        "lease_owner text not null default '', lease_until real not null default 0)",
        "create table if not exists webhook_delivery (event_id text primary key, body text not null, "
        "next_at real not null, created_at real not null, lease_owner text not null default '', "
        "lease_until real not null default 0)",
        "create index if not exists webhook_delivery_next on webhook_delivery (next_at)",
        "create table if not exists webhook_status (key text primary key, body text not null, "
        "keep_until real not null)",
    )

    def __init__(self, storage) -> None:
        self._storage = storage       # huey.storage.SqliteStorage
        with storage.db(commit=True) as cur:
            for statement in self.DDL:
                cur.execute(statement)

    def _write(self):
        return self._storage.db(commit=True)

    def _read(self, sql: str, params: tuple = ()) -> list:
        return self._storage.sql(sql, params, results=True)

    def add_watch(self, watch: Watch, status: dict, first_poll_at: float, keep_until: float) -> bool:
        with self._write() as cur:
            cur.execute("insert or ignore into webhook_status (key, body, keep_until) values (?, ?, ?)",
                        (watch.key, json.dumps(status), keep_until))
            if cur.rowcount != 1:
                return False
            cur.execute("insert into webhook_watch (key, account, body) values (?, ?, ?)",
                        (watch.key, watch.account, watch.dumps()))
            cur.execute("insert into webhook_account (account, next_poll_at) values (?, ?) on conflict (account) "
                        "do update set next_poll_at = min(next_poll_at, excluded.next_poll_at)",
                        (watch.account, first_poll_at))
            return True

    def watch(self, key: str) -> Watch | None:
        rows = self._read("select body from webhook_watch where key = ?", (key,))
        return Watch.loads(rows[0][0]) if rows else None

    def claim_account(self, account: str, owner: str, now: float, lease_seconds: float) -> bool:
        with self._write() as cur:
            cur.execute("update webhook_account set lease_owner = ?, lease_until = ? where account = ? and "
                        "next_poll_at <= ? and lease_until <= ?",
                        (owner, now + lease_seconds, account, now + DUE_TOLERANCE, now))
            return cur.rowcount == 1

    def watches(self, account: str) -> list[Watch]:
        return [Watch.loads(body) for body, in self._read(
            "select body from webhook_watch where account = ? order by key", (account,))]

    def release_account(self, account: str, owner: str, next_poll_at: float) -> bool:
        with self._write() as cur:
            cur.execute("select 1 from webhook_watch where account = ? limit 1", (account,))
            if cur.fetchone() is None:
                cur.execute("delete from webhook_account where account = ? and lease_owner = ?", (account, owner))
                return False
            cur.execute("update webhook_account set next_poll_at = ?, lease_owner = '', lease_until = 0 "
                        "where account = ? and lease_owner = ?", (next_poll_at, account, owner))
            return True

    def end_watch(self, watch: Watch, delivery: Delivery | None, status: dict | None, keep_until: float,
                  now: float) -> bool:
        with self._write() as cur:
            cur.execute("delete from webhook_watch where key = ?", (watch.key,))
            if cur.rowcount != 1:
                return False
            if delivery is not None:
                cur.execute("insert into webhook_delivery (event_id, body, next_at, created_at) values (?, ?, ?, ?)",
                            (delivery.event_id, delivery.dumps(), now, delivery.created_at))
            if status is None:
                cur.execute("delete from webhook_status where key = ?", (watch.key,))
            else:
                cur.execute("update webhook_status set body = ?, keep_until = ? where key = ?",
                            (json.dumps(status), keep_until, watch.key))
            return True

    def claim_delivery(self, event_id: str, owner: str, now: float, lease_seconds: float) -> Delivery | None:
        with self._write() as cur:
            cur.execute("update webhook_delivery set lease_owner = ?, lease_until = ? where event_id = ? and "
                        "next_at <= ? and lease_until <= ?",
                        (owner, now + lease_seconds, event_id, now + DUE_TOLERANCE, now))
            if cur.rowcount != 1:
                return None
            cur.execute("select body from webhook_delivery where event_id = ?", (event_id,))
            return Delivery.loads(cur.fetchone()[0])

    def finish_attempt(self, delivery: Delivery, owner: str, next_at: float | None, status: dict,
                       keep_until: float) -> None:
        with self._write() as cur:
            if next_at is None:
                cur.execute("delete from webhook_delivery where event_id = ? and lease_owner = ?",
                            (delivery.event_id, owner))
            else:
                cur.execute("update webhook_delivery set body = ?, next_at = ?, lease_owner = '', lease_until = 0 "
                            "where event_id = ? and lease_owner = ?",
                            (delivery.dumps(), next_at, delivery.event_id, owner))
            if cur.rowcount == 1:   # a holder whose lease was taken over records nothing
                cur.execute("update webhook_status set body = ?, keep_until = ? where key = ?",
                            (json.dumps(status), keep_until, delivery.task_key))

    def accounts_due(self, before: float, now: float | None = None) -> list[str]:
        return [a for a, in self._read("select account from webhook_account where next_poll_at <= ? and "
                                       "lease_until <= ?", (before, before if now is None else now))]

    def deliveries_due(self, before: float, limit: int, now: float | None = None) -> list[str]:
        return [e for e, in self._read("select event_id from webhook_delivery where next_at <= ? and "
                                       "lease_until <= ? order by next_at limit ?",
                                       (before, before if now is None else now, limit))]

    def statuses(self, keys: list[str]) -> dict[str, dict]:
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._read(f"select key, body from webhook_status where key in ({','.join('?' * len(chunk))})",
                              tuple(chunk))
            found.update((k, json.loads(body)) for k, body in rows)
        return found

    def backlog(self) -> tuple[int, int, float | None]:
        (watched,), = self._read("select count(*) from webhook_watch")
        (pending, oldest), = self._read("select count(*), min(created_at) from webhook_delivery")
        return watched, pending, oldest

    def purge(self, now: float) -> None:
        with self._write() as cur:
            cur.execute("delete from webhook_status where keep_until < ?", (now,))

    def check(self) -> None:
        check_writable(self._storage.filename)


# Redis: each atomic step is one Lua script. Keys (under the prefix): w:<key> a watch, acct:<account>
# its account's watch keys, accounts (zset: account -> next poll), alease:<account> "owner|until",
# d:<event> a delivery, due (zset: event -> next attempt), born (zset: event -> created), dlease:<event>,
# s:<key> a status (with a Redis expiry).
_ADD_WATCH = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
local held = redis.call('ZSCORE', KEYS[4], ARGV[5])
if not held or tonumber(held) > tonumber(ARGV[6]) then redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5]) end
return 1
"""
# KEYS: the due zset, the lease key; ARGV: member, due_by, owner, now, until, lease ms.
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then return 0 end
local held = redis.call('GET', KEYS[2])
if held then
  local bar = string.find(held, '|', 1, true)
  if tonumber(string.sub(held, bar + 1)) > tonumber(ARGV[4]) then return 0 end
end
redis.call('SET', KEYS[2], ARGV[3] .. '|' .. ARGV[5], 'PX', ARGV[6])
return 1
"""
# KEYS: accounts, alease, acct set; ARGV: account, owner, next poll.
_RELEASE_ACCOUNT = """
local held = redis.call('GET', KEYS[2])
if not held or string.sub(held, 1, string.len(ARGV[2]) + 1) ~= ARGV[2] .. '|' then return -1 end
redis.call('DEL', KEYS[2])
if redis.call('SCARD', KEYS[3]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""
# KEYS: w, acct set, d, due, born, s; ARGV: watch key, delivery json or '', now, event id, created,
# status json or '', status ms.
_END_WATCH = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SREM', KEYS[2], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[3], ARGV[2])
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
  redis.call('ZADD', KEYS[5], ARGV[5], ARGV[4])
end
if ARGV[6] == '' then redis.call('DEL', KEYS[6]) else redis.call('SET', KEYS[6], ARGV[6], 'PX', ARGV[7]) end
return 1
"""
# KEYS: d, dlease, due, born, s; ARGV: owner, delivery json, next_at or '', event id, status, status ms.
_FINISH_ATTEMPT = """
local held = redis.call('GET', KEYS[2])
if not held or string.sub(held, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '|' then return 0 end
redis.call('DEL', KEYS[2])
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1]) redis.call('ZREM', KEYS[3], ARGV[4]) redis.call('ZREM', KEYS[4], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2]) redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
end
redis.call('SET', KEYS[5], ARGV[5], 'PX', ARGV[6])
return 1
"""


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


class RedisStore:
    """The same records in Redis (REDIS_URL): every host's consumers share them."""

    def __init__(self, url: str, clock, prefix: str = "jimeng-api:webhooks:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5, socket_connect_timeout=5)
        self._p = prefix
        self._clock = clock          # Redis expiries are relative: statuses keep until a time of ours
        self._add = self._redis.register_script(_ADD_WATCH)
        self._claim = self._redis.register_script(_CLAIM)
        self._release = self._redis.register_script(_RELEASE_ACCOUNT)
        self._end = self._redis.register_script(_END_WATCH)
        self._finish = self._redis.register_script(_FINISH_ATTEMPT)

    def _k(self, *parts: str) -> str:
        return self._p + ":".join(parts)

    def _keep_ms(self, keep_until: float) -> int:
        return _ms(keep_until - self._clock())

    def add_watch(self, watch: Watch, status: dict, first_poll_at: float, keep_until: float) -> bool:
        keys = [self._k("s", watch.key), self._k("w", watch.key), self._k("acct", watch.account), self._k("accounts")]
        return bool(self._add(keys=keys, args=[json.dumps(status), self._keep_ms(keep_until), watch.dumps(),
                                               watch.key, watch.account, first_poll_at]))

    def claim_account(self, account: str, owner: str, now: float, lease_seconds: float) -> bool:
        return bool(self._claim(keys=[self._k("accounts"), self._k("alease", account)],
                                args=[account, now + DUE_TOLERANCE, owner, now, now + lease_seconds,
                                      _ms(lease_seconds * 2)]))

    def watch(self, key: str) -> Watch | None:
        body = self._redis.get(self._k("w", key))
        return Watch.loads(body) if body else None

    def watches(self, account: str) -> list[Watch]:
        keys = sorted(self._redis.smembers(self._k("acct", account)))
        if not keys:
            return []
        return [Watch.loads(v) for v in self._redis.mget([self._k("w", k) for k in keys]) if v]

    def release_account(self, account: str, owner: str, next_poll_at: float) -> bool:
        return self._release(keys=[self._k("accounts"), self._k("alease", account), self._k("acct", account)],
                             args=[account, owner, next_poll_at]) != 0

    def end_watch(self, watch: Watch, delivery: Delivery | None, status: dict | None, keep_until: float,
                  now: float) -> bool:
        event_id = delivery.event_id if delivery else "-"
        keys = [self._k("w", watch.key), self._k("acct", watch.account), self._k("d", event_id), self._k("due"),
                self._k("born"), self._k("s", watch.key)]
        return bool(self._end(keys=keys, args=[watch.key, delivery.dumps() if delivery else "", now, event_id,
                                               delivery.created_at if delivery else 0,
                                               json.dumps(status) if status else "", self._keep_ms(keep_until)]))

    def claim_delivery(self, event_id: str, owner: str, now: float, lease_seconds: float) -> Delivery | None:
        if not self._claim(keys=[self._k("due"), self._k("dlease", event_id)],
                           args=[event_id, now + DUE_TOLERANCE, owner, now, now + lease_seconds,
                                 _ms(lease_seconds * 2)]):
            return None
        body = self._redis.get(self._k("d", event_id))
        return Delivery.loads(body) if body else None

    def finish_attempt(self, delivery: Delivery, owner: str, next_at: float | None, status: dict,
                       keep_until: float) -> None:
        e = delivery.event_id
        self._finish(keys=[self._k("d", e), self._k("dlease", e), self._k("due"), self._k("born"),
                           self._k("s", delivery.task_key)],
                     args=[owner, delivery.dumps(), "" if next_at is None else next_at, e, json.dumps(status),
                           self._keep_ms(keep_until)])

    def _unleased(self, members: list[str], lease: str, now: float) -> list[str]:
        if not members:
            return []
        held = self._redis.mget([self._k(lease, m) for m in members])
        return [m for m, h in zip(members, held) if h is None or float(h.rsplit("|", 1)[1]) <= now]

    def accounts_due(self, before: float, now: float | None = None) -> list[str]:
        members = self._redis.zrangebyscore(self._k("accounts"), "-inf", before)
        return self._unleased(members, "alease", before if now is None else now)

    def deliveries_due(self, before: float, limit: int, now: float | None = None) -> list[str]:
        members = self._redis.zrangebyscore(self._k("due"), "-inf", before, start=0, num=limit)
        return self._unleased(members, "dlease", before if now is None else now)

    def statuses(self, keys: list[str]) -> dict[str, dict]:
        if not keys:
            return {}
        values = self._redis.mget([self._k("s", k) for k in keys])
        return {k: json.loads(v) for k, v in zip(keys, values) if v}

    def backlog(self) -> tuple[int, int, float | None]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zrange(self._k("accounts"), 0, -1)
        pipe.zcard(self._k("born"))
        pipe.zrange(self._k("born"), 0, 0, withscores=True)
        accounts, pending, oldest = pipe.execute()
        watched = 0
        if accounts:
            pipe = self._redis.pipeline(transaction=False)
            for account in accounts:
                pipe.scard(self._k("acct", account))
            watched = sum(pipe.execute())
        return watched, pending, oldest[0][1] if oldest else None

    def purge(self, now: float) -> None:
        return None      # statuses carry a Redis expiry

    def check(self) -> None:
        self._redis.ping()
