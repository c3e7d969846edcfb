"""Per-session rules a tester sets through `/_sandbox/sessions`: what one account is allowed now.

- `max_parallel`: Jimeng's per-account limit on running tasks. A generate past it is refused with
  ret 1310 and `fail_code` "exceed_model_parallel_max" at the top level (2026 update, 2.5), and
  nothing is created or charged. Checked and created under one lock, as the real server must.
- `login_expired`: every call of the session answers ret 1015 (the login ran out).
- `risky`: generate answers the March-2026 risk refusal (ret 4013, fail fields at the top level).
Sessions without rules behave as before (unlimited, logged in, not risky).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sandbox.envelope import RET_SESSION_INVALID, Refusal

RET_PARALLEL_LIMIT = "1310"
PARALLEL_FAIL_CODE = "exceed_model_parallel_max"
PARALLEL_MESSAGE = "因目前处于使用高峰期，暂时无法提交更多任务，请等待其他任务完成后再尝试提交～"


@dataclass(frozen=True)
class SessionRule:
    max_parallel: int | None = None
    login_expired: bool = False
    risky: bool = False


@dataclass
class SessionRules:
    """Every session's rule, and the lock that makes the parallel check and the create one step."""

    admission: threading.Lock = field(default_factory=threading.Lock)
    _rules: dict[str, SessionRule] = field(default_factory=dict)

    def set(self, session_id: str, rule: SessionRule) -> None:
        self._rules[session_id] = rule

    def rule(self, session_id: str) -> SessionRule:
        return self._rules.get(session_id, SessionRule())

    def check_login(self, session_id: str) -> None:
        if self.rule(session_id).login_expired:
            raise Refusal(RET_SESSION_INVALID, "login expired: sandbox session set to expired")

    def check_parallel(self, session_id: str, running: int) -> None:
        limit = self.rule(session_id).max_parallel
        if limit is not None and running >= limit:
            raise Refusal(RET_PARALLEL_LIMIT, PARALLEL_MESSAGE, fields={
                "fail_code": PARALLEL_FAIL_CODE, "fail_starling_key": "", "fail_starling_message": PARALLEL_MESSAGE})

    def reset(self) -> None:
        self._rules.clear()


def parse_rule(body: object) -> tuple[str, SessionRule]:
    """{"session": <session id>, "max_parallel": n|null, "login_expired": bool, "risky": bool}."""
    if not isinstance(body, dict) or not isinstance(body.get("session"), str) or not body["session"]:
        raise ValueError('give {"session": <session id>, "max_parallel": <n or null>, "login_expired": <bool>, '
                         '"risky": <bool>}')
    unknown = set(body) - {"session", "max_parallel", "login_expired", "risky"}
    if unknown:
        raise ValueError(f"unknown field(s) {sorted(unknown)}")
    limit = body.get("max_parallel")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("max_parallel must be a non-negative integer or null")
    flags = {name: body.get(name, False) for name in ("login_expired", "risky")}
    if not all(isinstance(v, bool) for v in flags.values()):
        raise ValueError("login_expired and risky must be true or false")
    return body["session"], SessionRule(max_parallel=limit, **flags)
