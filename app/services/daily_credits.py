"""The daily free credits: claiming them (`credit_receive`), and one resubmit after a credit refusal.

Jimeng hands out free credits once a day, but only to an account that claims them. A submit refused
for credits (ret 1006, earlier 5000) may therefore succeed after the claim. The refusal created and
charged nothing (Jimeng answered before creating a task), so sending the same body once more cannot
charge twice; it is sent again only when the claim really added credits, and never more than once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.numbers import upstream_int
from app.jimeng.regions import Token

log = logging.getLogger(__name__)

CREDIT_REFUSALS = frozenset({"1006", "5000"})
# Jimeng counts "today" in the time zone the claim names (update 7). CN: the page's own value.
# Abroad: the region's main time zone (a Dreamina client derives it from the account's country);
# the US spans several, and Pacific time is where the ttp2 cluster's users are most often counted.
TIME_ZONES = {"cn": "Asia/Shanghai", "us": "America/Los_Angeles", "hk": "Asia/Hong_Kong", "jp": "Asia/Tokyo",
              "sg": "Asia/Singapore"}
DEFAULT_TIME_ZONE = "UTC"


@dataclass(frozen=True)
class Claim:
    received: int               # credits this claim added (0: nothing to claim today)
    first_today: bool

    def as_dict(self) -> dict:
        return {"received": self.received, "firstReceive": self.first_today}


def time_zone_for(token: Token) -> str:
    return TIME_ZONES.get(token.region.code, DEFAULT_TIME_ZONE)


def claim_daily(client: JimengClient, token: Token) -> Claim:
    """Claim today's free credits; `received` is what Jimeng says it added (`receive_quota`)."""
    data = client.receive_credits(token, time_zone_for(token))
    # An amount that cannot be read is not "nothing to claim today": the claim may have added credits.
    received = upstream_int(data.get("receive_quota"))
    if received is None or received < 0:
        raise errors.UpstreamError("Jimeng's answer to the daily credit claim names no readable amount "
                                   "(receive_quota); the claim may have gone through: see /token/points")
    return Claim(received=received, first_today=data.get("is_first_receive") is True)


def generate_claiming_daily(client: JimengClient, token: Token, body: dict, *, kind: str) -> dict:
    """`client.generate`, and after a credit refusal: claim the daily credits, resubmit once if
    the claim added some. Any other outcome answers the original refusal (402)."""
    try:
        return client.generate(token, body, kind=kind)
    except errors.InsufficientCredits as refusal:
        if refusal.extra.get("upstream_code") not in CREDIT_REFUSALS:
            raise
        try:
            claim = claim_daily(client, token)
        except errors.ServiceError as exc:
            log.warning("daily credit claim failed (%s) after a credit refusal", exc.code)
            refusal.message += f"; claiming the daily free credits failed too ({exc.message})"
            raise refusal from None
        if claim.received <= 0:
            refusal.message += "; the daily free credits were already claimed today"
            raise refusal from None
        log.info("claimed %d daily credits after a credit refusal; resubmitting once", claim.received)
        # Safe: the refused submit created and charged nothing. Once only: a second refusal stands.
        try:
            return client.generate(token, body, kind=kind)
        except errors.InsufficientCredits as again:
            again.message += f"; {claim.received} daily free credits were claimed, still not enough"
            raise
