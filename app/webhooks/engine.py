"""The webhook engine: huey (SQLite under DATA_DIR, or Redis with REDIS_URL), its three jobs, and the
steps they run. The one object the rest of the app holds: `app.extensions["webhooks"]`.

Jobs (each one small and safe to run twice: the store's claims make a duplicate a no-op):
- `webhooks.poll(account)`: one read of the account's watched tasks, events for those that ended,
  then the next poll at Jimeng's pace;
- `webhooks.deliver(event_id)`: one attempt, then the next one if it failed;
- `webhooks.sweep` (every minute, and when a consumer starts): re-sends the jobs of whatever is due
  and unclaimed, which is how work survives a consumer killed mid-job (its messages are gone, the
  store's records are not).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from urllib.parse import urlsplit
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app import errors
from app.serving import metrics
from app.jimeng.regions import REGIONS, Token
from app.services.tasks import TaskSettings, TaskState
from app.state.sqlite import prepare_data_dir
from app.task_ids import TaskId
from app.webhooks import availability, delivery, registration, sealed, signing, watching
from app.webhooks.attempts import HostSlots, InFlight, track_connections
from app.webhooks.keys import task_key
from app.webhooks.store import Delivery, RedisStore, SqliteStore, Watch, WebhookStore

log = logging.getLogger(__name__)

QUEUE_NAME = "jimeng-api-webhooks"
DB_FILE = "webhooks.db"
SWEEP_BATCH = 500
# A job this late is re-sent by the sweep (its message was lost, or the consumers are behind).
SWEEP_SLACK = 5.0
# How long a task's `webhook` state stays readable after its delivery ended.
STATUS_KEEP_SECONDS = 7 * 86400
# A delivery's claim lasts at least this many attempt deadlines (WEBHOOK_TIMEOUT).
LEASE_PER_TIMEOUT = 2
# At a stop, how long the consumer waits for its jobs once the attempts in flight are cut (a poll
# still waiting on Jimeng is given back and abandoned after this).
STOP_SECONDS = 2.0


def host_share(workers: int) -> int:
    """Attempts one receiver host may run at once: a quarter of the consumer's threads (at least one),
    so slow or hostile receivers on a few hosts leave the other hosts' events threads to run on."""
    return max(workers // 4, 1)


@dataclass
class Runtime:
    """What the jobs use of the app: the same services the views use (built by create_app)."""

    config: object
    client: object
    clock: Callable[[], float]
    shapes: dict[str, Callable[[TaskState], dict]]          # route family -> its query answer
    task_settings: Callable[[Watch], TaskSettings]
    pool_token: Callable[[str], Token | None] = lambda label: None
    key_secret: Callable[[str], str | None] = lambda name: None   # an API key's own webhook secret


class Webhooks:
    """The engine, opened on first use (tests and hosts that never see a webhook create no file)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.cfg = runtime.config
        self._huey = None
        self._store: WebhookStore | None = None
        self._jobs = None
        self._session = None
        self._in_flight = InFlight()
        self._polls_lock = threading.Lock()
        self._polling: dict[str, str] = {}      # account -> lease owner, for the polls this process runs
        self._hosts = HostSlots(host_share(runtime.config.WEBHOOK_CONSUMER_WORKERS))
        self._unusable = False                  # the last check found the store unusable (logged once)

    # -- the engine -------------------------------------------------------------------------------
    @property
    def db_path(self) -> str:
        return os.path.join(self.cfg.DATA_DIR, DB_FILE)

    @property
    def huey(self):
        if self._huey is None:
            self._open()
        return self._huey

    @property
    def store(self) -> WebhookStore:
        if self._store is None:
            self._open()
        return self._store

    def _open(self) -> None:
        from huey import RedisHuey, SqliteHuey

        if self.cfg.REDIS_URL:
            huey = RedisHuey(QUEUE_NAME, url=self.cfg.REDIS_URL, results=False)
            store = RedisStore(self.cfg.REDIS_URL, self.runtime.clock)
        else:
            _private_file(self.db_path)
            # In a gevent worker no wait for the file lock happens inside SQLite (availability.py).
            huey = SqliteHuey(QUEUE_NAME, filename=self.db_path, results=False, timeout=availability.busy_timeout())
            store = SqliteStore(huey.storage)
        self._jobs = _register_jobs(huey, self)
        self._huey, self._store = huey, store

    def opened(self) -> bool:
        """Whether there can be anything to read: Redis, or an embedded file that exists already."""
        return self._store is not None or bool(self.cfg.REDIS_URL) or os.path.exists(self.db_path)

    @property
    def jobs(self) -> _Jobs:
        if self._jobs is None:
            self._open()
        return self._jobs

    def _now(self) -> float:
        return self.runtime.clock()

    # -- submit side ------------------------------------------------------------------------------
    def plan(self, request, kind: str, *, key, family: str) -> registration.Plan | None:
        """The checked webhook of a submit (its own, or its API key's default), or None; 400/503
        before anything is sent, a 503 too when the store cannot record a webhook now: a task
        whose webhook would be lost is never submitted."""
        plan = registration.plan(request, kind, key=key, family=family, cfg=self.cfg)
        if plan is not None:
            problem = self.problem()
            if problem is not None:
                raise errors.WebhookUnavailable(
                    f"this service cannot record webhooks right now ({problem}); nothing was submitted: retry "
                    "in a moment, or submit without webhook_url", headers={"Retry-After": "5"})
        return plan

    def problem(self) -> str | None:
        """Why the store cannot record a webhook now (None: it can). Waits at most
        CHECK_WAIT_SECONDS for another process's write, outside SQLite; /healthz asks it too."""
        where = "Redis, REDIS_URL" if self.cfg.REDIS_URL else f"DATA_DIR/{DB_FILE}"
        try:
            availability.patiently(lambda: self.store.check(), availability.CHECK_WAIT_SECONDS)
        except Exception as exc:   # noqa: BLE001 - sqlite3's, redis's or the file system's: all mean unusable
            reason = "locked by another process" if _locked(exc) else type(exc).__name__
            if not self._unusable:
                log.warning("webhook store unusable: %s (%s)", reason, where)
            self._unusable = True
            return f"the webhook store ({where}) cannot be written: {reason}"
        if self._unusable:
            log.info("webhook store usable again")
            self._unusable = False
        return None

    def wanted(self) -> bool:
        """Whether webhooks can be asked for here (a signing secret), or have been (a store exists)."""
        return bool(self.cfg.WEBHOOK_SECRET) or self.opened()

    def watch_submitted(self, plan: registration.Plan, task_id: str, tokens: Sequence[Token],
                        secret_key: str, aliases: Sequence[str] = ()) -> bool:
        """Watch the task a submit answered (`tokens`: those it was submitted with), unless it is
        watched already under one of its `aliases` (the same Jimeng task by its submit id)."""
        watch = registration.watch_for(plan, task_id, tokens, secret_key, self.cfg)
        if watch is None:
            return False
        known = [task_key(tid) for tid in (TaskId.decode(a, secret_key) for a in aliases) if tid is not None]
        if known and availability.patiently(lambda: self.store.statuses(known), availability.RECORD_WAIT_SECONDS):
            return False
        return self.watch(watch, plan.pending_state)

    def watch(self, watch: Watch, status: dict) -> bool:
        """Start watching a task (nothing happens for one already registered); its first poll soon.
        `status`: the `webhook` state its queries show meanwhile."""
        now = self._now()
        first = now + self.cfg.WEBHOOK_POLL_MAX_SECONDS
        wait = availability.RECORD_WAIT_SECONDS
        added = availability.patiently(
            lambda: self.store.add_watch(watch, status, first, self._keep_until(watch.deadline)), wait)
        if added:
            try:
                availability.patiently(
                    lambda: self.jobs.poll.schedule(args=(watch.account,), delay=max(first - now, 0)), wait)
            except Exception as exc:   # noqa: BLE001 - the watch is recorded: the sweep sends its poll
                log.warning("webhooks: first poll not queued (%s); the sweep sends it", type(exc).__name__)
        return added

    def states(self, tids: Sequence[TaskId]) -> list[dict | None]:
        """The `webhook` object of each task, or None (one read for the whole answer)."""
        if not self.opened():
            return [None] * len(tids)
        keys = [task_key(t) for t in tids]
        try:
            found = availability.patiently(lambda: self.store.statuses(list(dict.fromkeys(keys))),
                                           availability.CHECK_WAIT_SECONDS)
        except Exception as exc:   # noqa: BLE001 - a query answers the task even if its webhook state is out of reach
            log.warning("webhook states unavailable (%s); answering without them", type(exc).__name__)
            return [None] * len(tids)
        return [found.get(k) for k in keys]

    def task_ended(self, state: TaskState, secret_key: str) -> bool:
        """This task ended (e.g. it was cancelled): fire its event now if it has a webhook.

        `state` is the task as its query answers it now (our task shape); `secret_key` the task id
        secret of the route that answered it. True when an event was queued; a task without a webhook,
        or whose event was already queued, changes nothing. Cancel calls this."""
        tid = TaskId.decode(state.task_id, secret_key)
        if tid is None or not state.finished or not self.opened():
            return False
        try:
            watch = availability.patiently(lambda: self.store.watch(task_key(tid)), availability.RECORD_WAIT_SECONDS)
            if watch is None:
                return False
            kind = watch.kind
            ended = watching.Ended(watch, f"{kind}.{'completed' if state.status == 'completed' else 'failed'}", state)
            return self._fire(ended)
        except Exception as exc:   # noqa: BLE001 - the cancel is done; the watcher's next poll sees it ended
            log.warning("webhooks: an ended task's event not queued now (%s); the next poll fires it",
                        type(exc).__name__)
            return False

    # -- the consumer -----------------------------------------------------------------------------
    def create_consumer(self, workers: int):
        """huey's consumer of this engine: `workers` threads for the jobs, huey's scheduler for delayed
        jobs and the minute's sweep. A stop cuts the attempts in flight (each is sent again, same id,
        once a consumer runs) and gives back the polls in hand: it takes a second or two, whatever the
        receivers' pace (the master's stop waits for it)."""
        from huey.consumer import Consumer

        hooks = self
        self._hosts.limit = host_share(workers)

        class _Consumer(Consumer):
            def stop(self, graceful: bool = False) -> None:
                hooks.stopping()
                super().stop(graceful)

        return _Consumer(self.huey, workers=workers, worker_type="thread", periodic=True, initial_delay=0.1,
                         backoff=1.5, max_delay=1.0, scheduler_interval=1, check_worker_health=True,
                         graceful_signal="TERM", shutdown_timeout=STOP_SECONDS)

    def stopping(self) -> None:
        """The consumer stops: cut the attempts in flight; the polls in hand are due again at once."""
        cut = self._in_flight.cut_all()
        with self._polls_lock:
            polls = dict(self._polling)
        now = self._now()
        for account, owner in polls.items():
            try:
                if self.store.release_account(account, owner, now):
                    self.jobs.poll(account)
            except Exception as exc:   # noqa: BLE001 - its lease runs out instead
                log.warning("webhooks: a poll in hand not given back at the stop (%s)", type(exc).__name__)
        if cut or polls:
            log.info("webhooks: stopping; %d attempts cut, %d polls given back", cut, len(polls))

    # -- jobs -------------------------------------------------------------------------------------
    def poll(self, account: str) -> None:
        owner = uuid.uuid4().hex
        now = self._now()
        if not self.store.claim_account(account, owner, now, self.cfg.WEBHOOK_LEASE_SECONDS):
            return       # not due (a duplicate message) or another consumer is polling it
        with self._polls_lock:
            self._polling[account] = owner
        try:
            self._poll_claimed(account, owner, now)
        finally:
            with self._polls_lock:
                if self._polling.get(account) == owner:
                    del self._polling[account]

    def _poll_claimed(self, account: str, owner: str, now: float) -> None:
        interval = self.cfg.WEBHOOK_POLL_MAX_SECONDS
        try:
            watches = self.store.watches(account)
            if watches:
                token = self._token(watches)
                result = watching.poll(watches, token, self.runtime.client, self.runtime.task_settings, now)
                for ended in result.ended:
                    self._fire(ended)
                interval = self._interval(result)
        finally:
            next_at = self._now() + interval
            if self.store.release_account(account, owner, next_at):
                self.jobs.poll.schedule(args=(account,), delay=max(next_at - self._now(), 0))

    def _interval(self, result: watching.PollResult) -> float:
        """Jimeng's own pace (polling_config), but an ended task never waits past the maximum."""
        low, high = self.cfg.WEBHOOK_POLL_MIN_SECONDS, self.cfg.WEBHOOK_POLL_MAX_SECONDS
        return min(max(result.suggested_interval or high, low), high)

    def _token(self, watches: Sequence[Watch]) -> Token | None:
        """The account's session: the pool's (company mode) or the sealed one of its watches."""
        for w in watches:
            if w.pool_account:
                return self.runtime.pool_token(w.pool_account)
            opened = sealed.unseal(self.cfg.SECRET_KEY, w.sealed_token, w.key)
            if opened is not None:
                parts = json.loads(opened)
                return Token(session_id=parts["session"], region=REGIONS[w.region], proxy=parts.get("proxy"))
        return None

    def _fire(self, ended: watching.Ended) -> bool:
        """End the watch and queue its event (if it asked for this one) in one step."""
        w = ended.watch
        now = self._now()
        if ended.event_type not in w.events:
            return availability.patiently(lambda: self.store.end_watch(w, None, None, self._keep_until(now), now),
                                          availability.RECORD_WAIT_SECONDS)
        data = self.runtime.shapes[w.family](ended.state)
        data.pop("webhook", None)
        event_id = f"evt_{w.key}"
        body = json.dumps({"id": event_id, "object": "event", "type": ended.event_type, "created_at": int(now),
                           "data": data}, separators=(",", ":"), ensure_ascii=False)
        item = Delivery(event_id=event_id, task_key=w.key, event_type=ended.event_type, url=w.url,
                        host=urlsplit(w.url).hostname or "", body=body, created_at=now, api_key=w.api_key)
        wait = availability.RECORD_WAIT_SECONDS
        if not availability.patiently(
                lambda: self.store.end_watch(w, item, item.state("pending"), self._keep_until(now), now), wait):
            return False
        log.info("webhook event queued", extra={"event": ended.event_type, "webhook_host": item.host})
        try:
            availability.patiently(lambda: self.jobs.deliver(event_id), wait)
        except Exception as exc:   # noqa: BLE001 - the delivery is recorded: the sweep sends it
            log.warning("webhooks: a delivery not queued (%s); the sweep sends it", type(exc).__name__)
        return True

    def deliver(self, event_id: str) -> None:
        owner = uuid.uuid4().hex
        now = self._now()
        item = self.store.claim_delivery(event_id, owner, now, self.delivery_lease)
        if item is None:
            return
        if not self._hosts.take(item.host, item.event_id):
            # Its host has its share of threads already: not an attempt; back later, the thread is free.
            self._put_back(item, owner, self._hosts.wait_for(item.event_id))
            return
        try:
            answer = self._attempt(item, now)
        except Exception:   # noqa: BLE001 - whatever broke, the attempt is recorded and retried on schedule
            log.exception("webhook attempt failed inside the service", extra={"webhook_host": item.host})
            answer = delivery.Answer(None, "error")
        finally:
            self._hosts.give(item.host)
        if answer.result == "cut":
            # The consumer stops: the receiver may or may not have it; sent again (same id) at the next start.
            log.info("webhook attempt cut by a stop; sent again once a consumer runs",
                     extra={"event": item.event_type, "webhook_host": item.host})
            self._put_back(item, owner, 0.0)
            return
        item.attempts += 1
        item.last_status = answer.status
        done = self._now()
        policy = delivery.Policy(self.cfg.WEBHOOK_RETRY_BASE_SECONDS, self.cfg.WEBHOOK_RETRY_HOURS * 3600)
        state, next_at = delivery.next_attempt(answer, item.attempts, item.created_at, done, policy)
        self.store.finish_attempt(item, owner, next_at, item.state(state), self._keep_until(done))
        metrics.webhook_attempt(item.event_type, answer.result)
        if next_at is None:
            metrics.webhook_ended(item.event_type, state)
        else:
            self.jobs.deliver.schedule(args=(event_id,), delay=max(next_at - done, 0))
        log.info("webhook attempt", extra={"event": item.event_type, "webhook_host": item.host,
                                            "attempt": item.attempts, "result": answer.result, "webhook_state": state})

    def _attempt(self, item: Delivery, now: float) -> delivery.Answer:
        """One POST under one deadline (WEBHOOK_TIMEOUT for connecting, sending and the answer)."""
        secret = (self.runtime.key_secret(item.api_key) if item.api_key else None) or self.cfg.WEBHOOK_SECRET
        if not secret:
            log.error("webhook not sent: no signing secret (WEBHOOK_SECRET, or the API key's webhook_secret)")
            return delivery.Answer(None, "no_secret")
        # The receiver checks the timestamp against its own clock: the real time, whatever ours is.
        headers = signing.signed_headers(secret, item.event_id, item.body, time.time())
        with self._in_flight.attempt(self.cfg.WEBHOOK_TIMEOUT) as attempt:
            return delivery.send(self._delivery_session(), item.url, item.body, headers, self.cfg.WEBHOOK_TIMEOUT,
                                 now, attempt)

    def _put_back(self, item: Delivery, owner: str, delay: float) -> None:
        """Give a claimed delivery back without an attempt: due again in `delay` seconds."""
        now = self._now()
        status = item.state("pending" if item.attempts == 0 else "retrying")
        self.store.finish_attempt(item, owner, now + delay, status, self._keep_until(now))
        self.jobs.deliver.schedule(args=(item.event_id,), delay=delay)

    @property
    def delivery_lease(self) -> float:
        """A delivery's claim outlives its attempt (WEBHOOK_TIMEOUT) with room to spare, so the sweep
        never sends an event again while an attempt of it still runs."""
        return max(self.cfg.WEBHOOK_LEASE_SECONDS, LEASE_PER_TIMEOUT * self.cfg.WEBHOOK_TIMEOUT)

    def _delivery_session(self):
        if self._session is None:
            from app.net.sessions import public_session
            timeout = self.cfg.WEBHOOK_TIMEOUT
            self._session = track_connections(public_session(self.cfg.ALLOW_LOOPBACK_WEBHOOKS, timeout=(timeout, timeout),
                                                             user_agent="jimeng-api-webhooks"))
        return self._session

    def sweep(self) -> int:
        """Re-send the jobs of everything due and unclaimed; forget old statuses. How many were re-sent."""
        now = self._now()
        before = now - SWEEP_SLACK
        accounts = self.store.accounts_due(before, now)
        events = self.store.deliveries_due(before, SWEEP_BATCH, now)
        for account in accounts:
            self.jobs.poll(account)
        for event_id in events:
            self.jobs.deliver(event_id)
        self.store.purge(now)
        if accounts or events:
            log.info("webhooks: sweep re-sent %d polls and %d deliveries", len(accounts), len(events))
        return len(accounts) + len(events)

    def sweep_now(self) -> None:
        """Queue a sweep at once (a consumer starting after a crash takes up the work it left)."""
        self.jobs.sweep_once()

    def publish_metrics(self) -> None:
        if not self.opened():
            return
        try:
            watched, pending, oldest = self.store.backlog()
        except Exception as exc:   # noqa: BLE001 - a scrape shows the rest
            log.warning("webhook backlog unavailable (%s)", type(exc).__name__)
            return
        metrics.webhook_backlog(watched, pending, max(self._now() - oldest, 0.0) if oldest else 0.0)

    def _keep_until(self, after: float) -> float:
        return after + self.cfg.WEBHOOK_RETRY_HOURS * 3600 + STATUS_KEEP_SECONDS


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and availability.is_busy(exc)


def _private_file(path: str) -> None:
    """The queue holds sealed sessions and clients' URLs: DATA_DIR 0700, the file 0600 like the shared
    state's (SQLite gives its -wal and -shm the file's mode). A file an older version made is tightened."""
    prepare_data_dir(os.path.dirname(path))
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, path + "-wal", path + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)


@dataclass
class _Jobs:
    poll: object
    deliver: object
    sweep: object
    sweep_once: object


def _register_jobs(huey, hooks: Webhooks) -> _Jobs:
    """The engine's jobs, by fixed names (every process registers the same ones)."""
    from huey import crontab

    @huey.task(name="webhooks.poll")
    def poll(account: str) -> None:
        hooks.poll(account)

    @huey.task(name="webhooks.deliver")
    def deliver(event_id: str) -> None:
        hooks.deliver(event_id)

    @huey.periodic_task(crontab(), name="webhooks.sweep")
    def sweep() -> None:
        hooks.sweep()

    @huey.task(name="webhooks.sweep_once")
    def sweep_once() -> None:
        hooks.sweep()

    return _Jobs(poll, deliver, sweep, sweep_once)

