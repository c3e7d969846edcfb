"""Account facts: is a session alive, and how many credits it has."""
from __future__ import annotations

from dataclasses import dataclass

from app.jimeng.client import JimengClient
from app.jimeng.regions import Token


def masked(token: Token) -> str:
    """How a token is shown back to its owner: region and the last 4 characters only."""
    return f"{token.region.code}:…{token.session_id[-4:]}" if len(token.session_id) > 8 else f"{token.region.code}:…"


@dataclass(frozen=True)
class Credits:
    gift: int
    purchase: int
    vip: int
    expiring: int   # daily credits can sit here while `credit` shows 0 (protocol 7, the HK log)

    @property
    def total(self) -> int:
        return self.gift + self.purchase + self.vip

    def as_dict(self) -> dict:
        return {"giftCredit": self.gift, "purchaseCredit": self.purchase, "vipCredit": self.vip,
                "totalCredit": self.total, "expiringCredit": self.expiring}


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def credits_of(client: JimengClient, token: Token) -> Credits:
    data = client.credits(token)
    credit = data.get("credit") if isinstance(data.get("credit"), dict) else {}
    expiring = sum(_int(e.get("credit_amount")) for e in data.get("expiring_credits") or [] if isinstance(e, dict))
    return Credits(gift=_int(credit.get("gift_credit")), purchase=_int(credit.get("purchase_credit")),
                   vip=_int(credit.get("vip_credit")), expiring=expiring)


def is_alive(client: JimengClient, token: Token) -> bool:
    return client.account_alive(token)
