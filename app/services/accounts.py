"""Account facts: is a session alive, and how many credits it has."""
from __future__ import annotations

from dataclasses import dataclass

from app import errors
from app.jimeng.client import JimengClient
from app.jimeng.numbers import upstream_count, upstream_int
from app.jimeng.regions import Token


def masked(token: Token) -> str:
    """How a token is shown back to its owner: region and the last 4 characters only."""
    return f"{token.region.code}:…{token.session_id[-4:]}" if len(token.session_id) > 8 else f"{token.region.code}:…"


@dataclass(frozen=True)
class Credits:
    gift: int
    purchase: int
    vip: int
    # The daily free credits: the HK log (protocol 7) showed a claimed 50 only here while `credit`
    # said 0; other answers list the same credits under both. So they count once, as the larger.
    expiring: int

    @property
    def total(self) -> int:
        return max(self.gift, self.expiring) + self.purchase + self.vip

    def as_dict(self) -> dict:
        return {"giftCredit": self.gift, "purchaseCredit": self.purchase, "vipCredit": self.vip,
                "totalCredit": self.total, "expiringCredit": self.expiring}


_AMOUNTS = ("gift_credit", "purchase_credit", "vip_credit")


def _sum(entries, name: str) -> int:
    return sum(upstream_count(e.get(name)) for e in entries if isinstance(e, dict)) if isinstance(entries, list) else 0


def credits_of(client: JimengClient, token: Token) -> Credits:
    """The balance. An answer without a readable `credit` object is a 502: read as 0 credits, it
    would tell the owner their account is empty."""
    data = client.credits(token)
    credit = data.get("credit")
    amounts = [upstream_int(credit.get(name, 0)) for name in _AMOUNTS] if isinstance(credit, dict) else [None]
    if any(a is None or a < 0 for a in amounts):
        raise errors.UpstreamError("Jimeng's balance answer has no readable credit amounts (credit)")
    detail = data.get("credits_detail") if isinstance(data.get("credits_detail"), dict) else {}
    expiring = max(_sum(data.get("expiring_credits"), "credit_amount"),
                   _sum(detail.get("gift_credits"), "residual_credits"))
    gift, purchase, vip = amounts
    return Credits(gift=gift, purchase=purchase, vip=vip, expiring=expiring)


def is_alive(client: JimengClient, token: Token) -> bool:
    return client.account_alive(token)
