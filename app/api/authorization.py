"""The `Authorization` header of a request: the Jimeng tokens a client sends as its bearer."""
from __future__ import annotations

from app.errors import InvalidRequest, MissingToken
from app.jimeng.regions import Token, parse_token

MAX_TOKENS = 10


def parse_authorization(header: str | None) -> list[Token]:
    """All tokens of an `Authorization: Bearer t1,t2` header; 401 when there is none."""
    if not header:
        raise MissingToken()
    value = header.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        value = rest
    elif rest and scheme.isalpha():
        raise MissingToken()  # another scheme (Basic ...) carries no Jimeng token
    parts = [p for p in (s.strip() for s in value.split(",")) if p]
    if not parts:
        raise MissingToken()
    if len(parts) > MAX_TOKENS:
        # Each token can mean one upstream call per query: bound the fan-out of one request.
        raise InvalidRequest(f"at most {MAX_TOKENS} tokens per request", param="Authorization")
    # A token listed twice is one account: it counts once (for the Idempotency-Key's marks, for the
    # history calls made per token).
    return list(dict.fromkeys(parse_token(p) for p in parts))
