"""The server-held account pool of company mode (`JIMENG_ACCOUNTS_FILE`): which account takes a submit.

An account is eligible when it offers the model and region (checked by the submit itself), has
credits (a cached balance, refreshed at most once per `credits_ttl`), is under `max_parallel`
running tasks and is not cooling down. A running task holds a slot of its account until a query
sees it finished, a light check of a full account finds it finished, or its timeout passes.

Refusals that created nothing move the submit to the next account: credits (1006/5000), the
parallel limit (1310), a dead login (1015), a model this account lacks (2061). A risk refusal
(4013/-6/1019) does NOT, unless `failover_on_risk`: Jimeng flags the prompt and the account, and
the same prompt sent to every account can get every account flagged. Anything that may have
reached Jimeng is never resent (it could charge twice).

Counts, cooldowns, balances and last errors live in the shared state (memory or Redis).
"""
from __future__ import annotations

import json
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app import errors
from app.serving import metrics
from app.jimeng.client import JimengClient
from app.jimeng.history import FAILED, SUCCEEDED, parse_record
from app.jimeng.regions import Token, parse_token
from app.net.proxies import ProxyAllowlist, check_proxy
from app.services.accounts import credits_of, masked
from app.state.shared import SharedState
from app.state.watched_file import ConfigFileError, WatchedJson, entries

log = logging.getLogger(__name__)

RESERVATION_SECONDS = 900      # a slot held while a submit uploads media, before it has a task id
SWEEP_EVERY_SECONDS = 15       # a full account's running tasks are looked up at most this often
CREDITS_RETRY_SECONDS = 30     # a balance that could not be read is not asked again sooner (at most credits_ttl)
_KEEP_SECONDS = 7 * 24 * 3600  # how long cooldowns, balances and last errors stay stored at most


ACCOUNT_FIELDS = frozenset({"label", "session_id", "proxy", "max_parallel"})


@dataclass(frozen=True)
class Account:
    label: str
    token: Token           # carries the label, so task ids name the account, not the session
    max_parallel: int = 1


@dataclass(frozen=True)
class PoolSettings:
    cooldown_seconds: float = 600.0        # after a dead login or a risk refusal
    busy_cooldown_seconds: float = 60.0    # after Jimeng's own parallel limit (1310)
    credits_ttl: float = 300.0             # how old a cached balance may be
    failover_on_risk: bool = False         # POOL_FAILOVER=1
    task_timeout: float = 4 * 3600.0       # a running task stops counting after this


def parse_accounts(raw: object, allowlist: ProxyAllowlist,
                   check: Callable[[str, ProxyAllowlist], str] | None = None) -> tuple[Account, ...]:
    """The accounts of the file; ConfigFileError names the first bad entry (never its session id)."""
    check = check or (lambda url, allow: check_proxy(url, allow, param="proxy"))
    accounts, labels = [], set()
    for where, entry in entries(raw, "JIMENG_ACCOUNTS_FILE", "accounts", ACCOUNT_FIELDS):
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > 64:
            raise ConfigFileError(f"{where}.label must be a non-empty string (at most 64 characters)")
        if label in labels:
            raise ConfigFileError(f"{where}.label {label!r} is used twice")
        session = entry.get("session_id")
        if not isinstance(session, str) or "@" in session:
            raise ConfigFileError(f"{where}.session_id must be a session id, optionally region-prefixed "
                                  "(a proxy goes in the proxy field)")
        try:
            token = parse_token(session, param="session_id")
        except errors.ServiceError:
            raise ConfigFileError(f"{where}.session_id is malformed") from None
        proxy = entry.get("proxy")
        if proxy is not None:
            if not isinstance(proxy, str):
                raise ConfigFileError(f"{where}.proxy must be a URL or null")
            try:
                proxy = check(proxy, allowlist)
            except errors.ServiceError as exc:
                raise ConfigFileError(f"{where}.proxy: {exc.message}") from None
        limit = entry.get("max_parallel", 1)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigFileError(f"{where}.max_parallel must be a positive integer")
        labels.add(label)
        accounts.append(Account(label=label, token=replace(token, proxy=proxy, account=label), max_parallel=limit))
    return tuple(accounts)


class Seat:
    """One submit attempt's place on the pool: a slot on the least loaded eligible account, taken
    when the submit chooses its account (`take`, its token chooser), then handed to the task the
    submit made (`held_by`) or given back (`failed`).

    The submit may choose again when the account it got lacks the model: the first slot is given
    back before another is taken."""

    def __init__(self, pool: AccountPool, now: float) -> None:
        self.pool, self.now = pool, now
        self.account: Account | None = None
        self.member = ""
        self.label = ""         # the account last taken, still named after its slot was given back

    def release(self) -> None:
        if self.account is not None:
            self.pool.state.drop_slot(_slots(self.account), self.member)
            self.account = None

    def take(self, candidates: Sequence[Token]) -> Token:
        self.release()
        self.account, self.member = self.pool.take_slot(candidates, self.now)
        self.label = self.account.label
        return self.account.token

    def held_by(self, upstream_id: str | None) -> None:
        """The submit made a task on this account (its upstream id): the slot becomes the task's.
        None: no new task here (an earlier one answered an Idempotency-Key), the slot is given back."""
        if self.account is None:
            return
        if upstream_id is None:
            self.release()
            return
        metrics.pool_submit(self.account.label, "accepted")
        self.pool.keep_slot(self.account, self.member, upstream_id, self.now)

    def failed(self, exc: errors.ServiceError, upstream_id: str | None) -> bool:
        """The submit failed on this seat; True when another account may take it (a refusal that
        created nothing and that another account may not share). A failure that may have reached
        Jimeng keeps the slot for the task it may have made (`upstream_id`, found by its submit id):
        it counts until a query or a sweep sees it finished, or the task timeout."""
        account = self.account
        if account is None:
            return False
        if "task_id" in exc.extra:
            metrics.pool_submit(account.label, "maybe_created")
            self.pool.keep_slot(account, self.member, upstream_id, self.now)
            try:
                self.pool.note_error(account, exc)
            except errors.StateUnavailable:
                pass            # the client must get this error: it carries the task id
            return False
        if "upstream_code" in exc.extra or isinstance(exc, errors.TokenInvalid):
            metrics.pool_submit(account.label, exc.code)
        self.release()
        self.pool.note_error(account, exc)
        return self.pool.fails_over(exc)


class AccountPool:
    def __init__(self, path: str, allowlist: ProxyAllowlist, state: SharedState, client: JimengClient,
                 settings: PoolSettings, clock: Callable[[], float]) -> None:
        self._file = WatchedJson(path, lambda raw: parse_accounts(raw, allowlist), "JIMENG_ACCOUNTS_FILE")
        self.state, self.client, self.settings, self.clock = state, client, settings, clock

    def accounts(self) -> tuple[Account, ...]:
        return self._file.current()

    def tokens(self) -> list[Token]:
        return [a.token for a in self.accounts()]

    # -- submit ----------------------------------------------------------------------------------
    def seat(self, excluded: set[str]) -> tuple[Seat, list[Token]]:
        """A seat for one submit attempt and the tokens it may choose from: every account but the
        `excluded` (those that refused this submit already); 429 when none is left."""
        tokens = [a.token for a in self.accounts() if a.label not in excluded]
        if not tokens:
            raise errors.ConcurrencyLimit("no account of this service can take the task now")
        return Seat(self, self.clock()), tokens

    def keep_slot(self, account: Account, member: str, name: str | None, now: float) -> None:
        """The reservation becomes the task `name` (its upstream id), counted until the task timeout.

        Jimeng may have the task already (and charged it): a state backend failing now must not
        turn that into an answer without its task id, which a client would resubmit. The slot then
        stays a reservation (it still counts, for RESERVATION_SECONDS)."""
        if name is None:
            return
        try:
            self.state.rename_slot(_slots(account), member, name, now + self.settings.task_timeout)
        except errors.StateUnavailable as exc:
            log.warning("could not hand the account's slot to its task; the reservation counts until it "
                        "expires", extra={"account": account.label, "code": exc.code})

    def fails_over(self, exc: errors.ServiceError) -> bool:
        if "upstream_code" not in exc.extra and not isinstance(exc, errors.TokenInvalid):
            return False  # our own refusal (bad input, no eligible account): the next account says the same
        if isinstance(exc, errors.RiskControl):
            return self.settings.failover_on_risk
        return isinstance(exc, (errors.InsufficientCredits, errors.ConcurrencyLimit, errors.TokenInvalid,
                                errors.ModelUnavailable))

    def take_slot(self, candidates: Sequence[Token], now: float) -> tuple[Account, str]:
        """A slot on the least loaded eligible account among `candidates`; 429/402 when there is none."""
        by_label = {a.label: a for a in self.accounts()}
        offered = [by_label[t.account] for t in candidates if t.account in by_label]
        ready, no_credit, waits = [], 0, []
        for account in offered:
            until = self.cooldown_until(account)
            if until > now:
                waits.append(until - now)
                continue
            credits = self.credits(account, now)
            if credits is not None and credits <= 0:
                no_credit += 1
                continue
            running = len(self.state.slots(_slots(account), now))
            if running >= account.max_parallel:
                running = self._sweep(account, now)
            if running < account.max_parallel:
                ready.append((running / account.max_parallel, random.random(), account))
        member = f"r:{uuid.uuid4().hex}"
        for _, _, account in sorted(ready, key=lambda item: item[:2]):
            if self.state.take_slot(_slots(account), member, account.max_parallel,
                                    now + RESERVATION_SECONDS, now):
                return account, member
            waits.append(SWEEP_EVERY_SECONDS)   # another worker took the last slot first
        if offered and no_credit == len(offered):
            raise errors.InsufficientCredits("no account of this service has credits left")
        retry = int(min(waits or [SWEEP_EVERY_SECONDS])) + 1
        raise errors.ConcurrencyLimit("every account of this service that offers this is busy or cooling down; "
                                      "retry later", headers={"Retry-After": str(retry)})

    # -- running tasks ---------------------------------------------------------------------------
    def task_seen(self, token: Token, upstream_id: str, finished: bool) -> None:
        """A query saw a task: a finished one frees its account's slot."""
        if finished and token.account:
            self.state.drop_slot(f"slots:{token.account}", upstream_id)

    def _sweep(self, account: Account, now: float) -> int:
        """A full account: look its running tasks up (at most once per SWEEP_EVERY_SECONDS, across workers)."""
        running = self.state.slots(_slots(account), now)
        if self.state.count(f"sweep:{account.label}:{int(now // SWEEP_EVERY_SECONDS)}", 2 * SWEEP_EVERY_SECONDS) > 1:
            return len(running)
        ids = [m for m in running if not m.startswith("r:")]
        if not ids:
            return len(running)
        try:
            records = {}
            for field in ("history_ids", "submit_ids"):
                wanted = [i for i in ids if i.isdigit() == (field == "history_ids")]
                if wanted:
                    records.update(self.client.history_by_ids(account.token, wanted, id_field=field))
        except errors.ServiceError:
            return len(running)
        for upstream_id, raw in records.items():
            if parse_record(upstream_id, raw).phase in (SUCCEEDED, FAILED):
                self.state.drop_slot(_slots(account), upstream_id)
        return len(self.state.slots(_slots(account), now))

    # -- health ----------------------------------------------------------------------------------
    def cooldown_until(self, account: Account) -> float:
        raw = self.state.get(f"cooldown:{account.label}")
        return float(raw) if raw else 0.0

    def credits(self, account: Account, now: float) -> int | None:
        """The cached balance, refreshed when older than credits_ttl; None when it cannot be known.

        A failed read is remembered too (for CREDITS_RETRY_SECONDS, across workers): while the
        credit endpoint fails, submits do not each wait for it to fail again."""
        raw = self.state.get(f"credits:{account.label}")
        if raw:
            total, fetched = raw.split("|")
            if now - float(fetched) < self.settings.credits_ttl:
                return int(total)
        retry = min(CREDITS_RETRY_SECONDS, self.settings.credits_ttl)
        failed_at = self.state.get(f"credits-failed:{account.label}")
        if failed_at and now - float(failed_at) < retry:
            return None
        try:
            balance = credits_of(self.client, account.token)
            # Abroad, claimed daily credits can show only as expiring while `credit` says 0.
            total = balance.total or balance.expiring
        except errors.ServiceError as exc:
            self.note_error(account, exc)
            if retry > 0:
                self.state.put(f"credits-failed:{account.label}", str(now), retry)
            return None
        self.state.put(f"credits:{account.label}", f"{total}|{now}", _KEEP_SECONDS)
        return total

    def note_error(self, account: Account, exc: errors.ServiceError) -> None:
        """Remember the error; cool the account down or mark it out of credits where it says so."""
        now = self.clock()
        cooldown = 0.0
        if isinstance(exc, (errors.TokenInvalid, errors.RiskControl)):
            cooldown = self.settings.cooldown_seconds
        elif isinstance(exc, errors.ConcurrencyLimit) and "upstream_code" in exc.extra:
            cooldown = self.settings.busy_cooldown_seconds
        elif isinstance(exc, errors.InsufficientCredits) and "upstream_code" in exc.extra:
            self.state.put(f"credits:{account.label}", f"0|{now}", _KEEP_SECONDS)
        if cooldown:
            metrics.pool_cooldown(account.label, exc.code)
            self.state.put(f"cooldown:{account.label}", str(now + cooldown), cooldown)
        self.state.put(f"error:{account.label}", json.dumps(
            {"code": exc.code, "upstream_code": exc.extra.get("upstream_code"), "message": exc.message,
             "at": int(now)}), _KEEP_SECONDS)

    def status(self) -> list[dict]:
        """What an operator sees per account (never the session id)."""
        now = self.clock()
        rows = []
        for account in self.accounts():
            raw_credits = self.state.get(f"credits:{account.label}")
            raw_error = self.state.get(f"error:{account.label}")
            until = self.cooldown_until(account)
            rows.append({
                "label": account.label, "region": account.token.region.code, "session": masked(account.token),
                "proxy": account.token.proxy is not None, "max_parallel": account.max_parallel,
                "running": len(self.state.slots(_slots(account), now)),
                "credits": int(raw_credits.split("|")[0]) if raw_credits else None,
                "cooldown_seconds": max(int(until - now), 0),
                "last_error": json.loads(raw_error) if raw_error else None})
        return rows


    def publish_metrics(self) -> None:
        """Per-account gauges from the shared state (for a scrape); the last values stay if it fails."""
        try:
            rows = self.status()
        except errors.StateUnavailable:
            log.warning("account gauges not refreshed: the shared state cannot be reached")
            return
        for row in rows:
            metrics.pool_account(row["label"], row["running"], row["credits"], row["cooldown_seconds"])


def _slots(account: Account) -> str:
    return f"slots:{account.label}"
