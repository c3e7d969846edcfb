"""Per-session credits: what generate charges, what `user_credit` shows, what `credit_receive` adds.

Facts from the 2026 update, section 7: the balance in `credit {gift_credit, purchase_credit,
vip_credit}` (the HK log showed claimed daily credits under `expiring_credits` /
`credits_detail.gift_credits` while `credit` said 0: abroad answers look like that here);
`credit_receive` answers `receive_quota` once per day, in the time zone the claim names, and 0
afterwards; a generate the account cannot pay is ret 1006 with `fail_starling_key`
`web_dre_m10n_generate_popup_credit_ininsufficient_title` ([DR] 9.6), and charges nothing.

Sessions: `nocredit*` start with nothing and nothing to claim today; `broke*` start with nothing
but can claim; any other starts with `start_credits` purchased credits. `/_sandbox/credits` sets
a session's balance and whether it can still claim today.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sandbox import catalogue
from sandbox.envelope import Refusal

DAILY_CREDITS = 60                 # [ZN]/[MJ] quote 60-80 a day
VIDEO_CREDITS_PER_SECOND = 5       # the sandbox's own price; Jimeng's varies by model (update 7)
IMAGE_CREDITS = 1                  # per image of a model without a price of its own
RET_NO_CREDIT_2026 = "1006"
RET_PARAM_ERROR = "34010100"       # protocol 10: credit_receive "param error"
NO_CREDIT_KEY = "web_dre_m10n_generate_popup_credit_ininsufficient_title"
NO_CREDIT_MESSAGE = "Not enough credits left (or no relevant benefits)"


def price(kind: str, duration_ms: int, count: int = 1, model_key: str = "") -> int:
    """Images: per image made (gen_count), at the model's price (update 4.2, sandbox/catalogue.py);
    videos: per started second."""
    if kind == "image":
        model = catalogue.IMAGE_MODELS.get(model_key)
        return (model.credits if model else IMAGE_CREDITS) * count
    return VIDEO_CREDITS_PER_SECOND * max(1, math.ceil(duration_ms / 1000))


def no_credit_refusal(detail: str = "") -> Refusal:
    return Refusal(RET_NO_CREDIT_2026, NO_CREDIT_MESSAGE + (f": {detail}" if detail else ""), data={
        "fail_code": RET_NO_CREDIT_2026, "fail_starling_key": NO_CREDIT_KEY, "fail_starling_message": NO_CREDIT_MESSAGE})


@dataclass
class Account:
    gift: int = 0                  # claimed daily credits, spent first
    purchase: int = 0
    claimable: bool = True         # False: today's credits are already claimed
    claimed_day: str | None = None
    spent: int = 0

    @property
    def total(self) -> int:
        return self.gift + self.purchase


@dataclass
class CreditBook:
    """Every session's account, made on first use. Thread-safe."""

    start_credits: int = 100_000
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _accounts: dict[str, Account] = field(default_factory=dict)

    def _account(self, session_id: str) -> Account:
        account = self._accounts.get(session_id)
        if account is None:
            if session_id.startswith("nocredit"):
                account = Account(claimable=False)
            elif session_id.startswith("broke"):
                account = Account()
            else:
                account = Account(purchase=self.start_credits)
            self._accounts[session_id] = account
        return account

    def charge(self, session_id: str, cost: int) -> None:
        """Take `cost` or refuse with 1006; a refusal takes nothing."""
        with self._lock:
            account = self._account(session_id)
            if account.total < cost:
                raise no_credit_refusal(f"this task costs {cost}, the account has {account.total}")
            from_gift = min(account.gift, cost)
            account.gift -= from_gift
            account.purchase -= cost - from_gift
            account.spent += cost

    def refund(self, session_id: str, amount: int) -> None:
        """Credits back for a task that did not run (cancelled, or refused by review)."""
        with self._lock:
            account = self._account(session_id)
            account.purchase += amount
            account.spent -= amount

    def receive(self, session_id: str, time_zone: object, now: float) -> int:
        """Today's claim: DAILY_CREDITS the first time a day (in `time_zone`), else 0."""
        if not isinstance(time_zone, str) or not time_zone:
            raise Refusal(RET_PARAM_ERROR, "param error: time_zone is required")
        try:
            day = datetime.fromtimestamp(now, ZoneInfo(time_zone)).date().isoformat()
        except (ZoneInfoNotFoundError, ValueError):
            raise Refusal(RET_PARAM_ERROR, f"param error: unknown time_zone {time_zone!r}") from None
        with self._lock:
            account = self._account(session_id)
            if not account.claimable or account.claimed_day == day:
                return 0
            account.claimed_day = day
            account.gift += DAILY_CREDITS
            return DAILY_CREDITS

    def balance(self, session_id: str) -> Account:
        with self._lock:
            account = self._account(session_id)
            return Account(account.gift, account.purchase, account.claimable, account.claimed_day, account.spent)

    def set(self, session_id: str, credits: int, claimable: bool) -> Account:
        """The admin knob: the session holds `credits` (purchased) and may or may not claim today."""
        with self._lock:
            self._accounts[session_id] = Account(purchase=credits, claimable=claimable)
        return self.balance(session_id)

    def reset(self) -> None:
        with self._lock:
            self._accounts.clear()


def balance_answer(account: Account, *, abroad: bool, expire_time: int) -> dict:
    """`user_credit`'s data. Abroad the daily credits show only under the expiring lists (HK log)."""
    expiring = [{"credit_amount": account.gift, "expire_time": expire_time}] if account.gift else []
    detail = [{"residual_credits": account.gift, "credits_life_end": expire_time}] if account.gift else []
    return {"credit": {"gift_credit": 0 if abroad else account.gift, "purchase_credit": account.purchase,
                       "vip_credit": 0},
            "expiring_credits": expiring, "credits_detail": {"gift_credits": detail}}
