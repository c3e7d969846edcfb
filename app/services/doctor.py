"""The doctor: read-only probes of each account against Jimeng, run at once under one deadline, each
answered with our error code and what a person should do about it.

Probes are the client's ordinary read calls (account info, credits, history, the live catalogue,
upload credentials, workspaces abroad) and, with the browser transport on, one load of the account's
Jimeng page: it shows whether the page gets ready to sign, and the API calls that page makes while
loading are run through the capture diff (the page as a witness of today's protocol). Nothing is
generated, uploaded or claimed: no credit is spent.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from app import errors
from app.jimeng import uploads
from app.jimeng.client import JimengClient
from app.jimeng.har import captured_call
from app.jimeng.live_catalogue import parse_common_config
from app.jimeng.models import VIDEO_MODELS
from app.jimeng.regions import Token
from app.jimeng.wire_settings import WireSettings
from app.serving.logs import redact
from app.services.accounts import credits_of, masked
from app.services.capture_diff import CaptureReport, diff_capture
from app.services.parallel import Outcome, run_all
from app.services.workspaces import latest_workspace

CHECKS = ("login", "credits", "history", "catalogue", "upload", "workspace", "browser", "page_witness")
CAPTURE_FIX = ("compare what Jimeng's page sends with ours: run the capture diff (POST /v1/doctor/capture with "
               "a HAR of the failing action), set the settings it names, and restart")
# What a person does about each error code a probe can end with.
FIXES = {
    "token_invalid": "log in to Jimeng again and send the new sessionid",
    "upstream_changed": "Jimeng changed its protocol (JIMENG_APP_VERSION, JIMENG_DA_VERSION and the other "
                        "constants may be stale): " + CAPTURE_FIX,
    "invalid_request": "Jimeng refused a parameter of this call (it may have renamed or added one): " + CAPTURE_FIX,
    "risk_control": "Jimeng's anti-abuse check refused this account: use it in a browser from this network, and "
                    "keep the browser transport on",
    "region_not_allowed": "Jimeng does not offer this to the account's region: check the token's region prefix",
    "insufficient_credits": "the account has no credits: claim the daily ones (POST /token/receive) or top up",
    "rate_limited": "Jimeng asks to slow down: run the doctor again in a minute",
    "upstream_unavailable": "Jimeng cannot be reached from this host: check the network, UPSTREAM_PROXY or the "
                            "token's proxy",
    "upstream_timeout": "Jimeng did not answer in time: check the network; raise JIMENG_TIMEOUT or DOCTOR_TIMEOUT "
                        "if it is only slow",
    "upstream_error": "Jimeng answered with an error: run the doctor again; if it stays, " + CAPTURE_FIX,
    "browser_unavailable": "install Debian's chromium-headless-shell (or chromium), or set BROWSER_EXECUTABLE",
    "service_busy": "the browser transport is busy: run the doctor again in a moment",
    "state_unavailable": "the shared state (REDIS_URL) cannot be reached",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str                 # ok, failed or skipped
    code: str = ""
    message: str = ""
    fix: str = ""
    ms: int = 0
    settings: tuple[str, ...] = ()          # page_witness: the settings to apply
    report: CaptureReport | None = None     # page_witness: the whole comparison

    def as_dict(self) -> dict:
        answer = {"name": self.name, "status": self.status, "code": self.code or None,
                  "message": redact(self.message), "fix": self.fix or None, "ms": self.ms}
        if self.report is not None:
            answer["settings"] = list(self.settings)
            answer["comparison"] = self.report.as_dict()["comparison"]
        return answer


@dataclass(frozen=True)
class AccountReport:
    account: str
    region: str
    checks: tuple[Check, ...]
    label: str = ""

    @property
    def ok(self) -> bool:
        return all(c.status != "failed" for c in self.checks)

    def as_dict(self) -> dict:
        answer = {"account": self.account, "region": self.region}
        if self.label:
            answer["label"] = self.label
        return {**answer, "ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


@dataclass(frozen=True)
class DoctorSettings:
    timeout: float = 20.0
    upstream_url: str = ""
    wire: WireSettings | None = None
    clock: Callable[[], float] = time.time


@dataclass(frozen=True)
class DoctorReport:
    checked_at: int
    accounts: tuple[AccountReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.accounts)

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked_at": self.checked_at, "accounts": [a.as_dict() for a in self.accounts]}


def examine(client: JimengClient, tokens: Sequence[Token], settings: DoctorSettings) -> DoctorReport:
    """Every probe of every account at once; those unfinished at the deadline are failed as timed out."""
    jobs: dict[str, Callable] = {}
    page_checked_by: dict[str, Token] = {}      # the region's page is opened once, with its first account
    for index, token in enumerate(tokens):
        for name, probe in _probes(client, token, settings).items():
            if name == "browser" and page_checked_by.setdefault(token.region.code, token) is not token:
                continue
            jobs[f"{index}:{name}"] = _timed(probe)
    outcomes = run_all(jobs, settings.timeout)
    accounts = []
    firsts: dict[str, dict[str, Check]] = {}
    for index, token in enumerate(tokens):
        checks = {name: _check(name, outcomes.get(f"{index}:{name}"), settings.timeout)
                  for name in CHECKS if name not in ("browser", "page_witness")}
        first = page_checked_by[token.region.code]
        if first is token:
            browser = _check("browser", outcomes.get(f"{index}:browser"), settings.timeout)
            firsts[token.region.code] = {
                "browser": browser,
                "page_witness": _page_witness(outcomes.get(f"{index}:browser"), browser, settings)}
            checks.update(firsts[token.region.code])
        else:
            done = firsts[token.region.code]["browser"]
            why = done.message if done.status == "skipped" else \
                f"the region's page was checked with {first.account or masked(first)}"
            checks.update({name: Check(name, "skipped", message=why) for name in ("browser", "page_witness")})
        accounts.append(AccountReport(masked(token), token.region.code, _with_named_fix(checks, firsts[
            token.region.code]["page_witness"]), token.account))
    return DoctorReport(int(settings.clock()), tuple(accounts))


class Skipped(Exception):
    """A probe that does not apply here; the message says why."""


def _probes(client: JimengClient, token: Token, settings: DoctorSettings) -> dict[str, Callable]:
    def login() -> str:
        if not client.account_alive(token):
            raise errors.TokenInvalid("Jimeng does not know this session (no user id)")
        return "Jimeng knows the session"

    def credits() -> str:
        return f"{credits_of(client, token).total} credits"

    def history() -> str:
        client.history_list(token, count=1)
        return "the account's history is readable"

    def catalogue() -> str:
        live = parse_common_config(client.video_config(token))
        if live is None:
            return "Jimeng's catalogue has no model we know; the static table is used"
        ours = [m for m in VIDEO_MODELS.values() if token.region.code in m.regions]
        offered = [m.name for m in ours if live.offers(m)]
        missing = [f"{m.name} ({m.req_key})" for m in ours if m.req_key not in live.models]
        text = f"{len(offered)} of our models offered to this account"
        return text + (f"; not listed by Jimeng: {', '.join(missing)}" if missing else "")

    def upload() -> str:
        client.upload_token(token, uploads.IMAGE_SCENE)
        return "upload credentials issued (nothing uploaded)"

    def workspace() -> str:
        if token.region.code == "cn":
            raise Skipped("accounts in China have no workspace to name")
        found = latest_workspace(client.workspaces(token))
        if found is None:
            raise errors.UpstreamError("Jimeng listed no workspace for this account; its submits will be refused")
        return "the account's workspace is listed"

    def browser() -> list[dict]:
        if client.browser is None or client.policy.mode == "off":
            raise Skipped("the browser transport is off (BROWSER_TRANSPORT=off)")
        return client.witness_page(token, max(settings.timeout - 1.0, 1.0))

    return {"login": login, "credits": credits, "history": history, "catalogue": catalogue, "upload": upload,
            "workspace": workspace, "browser": browser}


def _timed(probe: Callable) -> Callable:
    def run():
        t0 = time.monotonic()
        try:
            return probe(), int((time.monotonic() - t0) * 1000)
        except BaseException as exc:
            exc.doctor_ms = int((time.monotonic() - t0) * 1000)   # type: ignore[attr-defined]
            raise
    return run


def _check(name: str, outcome: Outcome | None, timeout: float) -> Check:
    if outcome is None or outcome.timed_out:
        return Check(name, "failed", "upstream_timeout", f"did not finish within the doctor's deadline "
                                                        f"({timeout:g} s, DOCTOR_TIMEOUT)",
                     FIXES["upstream_timeout"], int(timeout * 1000))
    ms = getattr(outcome.error, "doctor_ms", 0)
    if isinstance(outcome.error, Skipped):
        return Check(name, "skipped", message=str(outcome.error), ms=ms)
    if isinstance(outcome.error, errors.ServiceError):
        return Check(name, "failed", outcome.error.code, outcome.error.message, FIXES.get(outcome.error.code, ""), ms)
    if outcome.error is not None:
        return Check(name, "failed", "internal_error", f"the probe failed ({type(outcome.error).__name__})", "", ms)
    value, ms = outcome.value
    if name == "browser":
        return Check(name, "ok", message=f"Jimeng's page opened and is ready to sign ({len(value)} API calls "
                                         f"made while it loaded)", ms=ms)
    return Check(name, "ok", message=value, ms=ms)


def _page_witness(outcome: Outcome | None, browser: Check, settings: DoctorSettings) -> Check:
    """The API calls Jimeng's page made while it loaded, compared with ours."""
    if browser.status != "ok" or outcome is None or outcome.value is None:
        why = browser.message if browser.status == "skipped" else "the page did not load (see the browser check)"
        return Check("page_witness", "skipped", message=why)
    t0 = time.monotonic()
    calls = [c for c in (captured_call(str(r.get("method") or "GET"), str(r.get("url") or ""),
                                       (r.get("headers") or {}).items(), r.get("body"))
                         for r in outcome.value[0] if isinstance(r, dict)) if c is not None]
    report = diff_capture(calls, upstream_url=settings.upstream_url,
                          wire=settings.wire if settings.wire is not None else _default_wire())
    ms = int((time.monotonic() - t0) * 1000)
    if report.settings:
        return Check("page_witness", "failed", "upstream_changed",
                     f"Jimeng's page sends what we do not: {report.summary}",
                     "set " + " ".join(report.settings) + " and restart", ms, report.settings, report)
    return Check("page_witness", "ok", message=report.summary, ms=ms, report=report)


def _default_wire() -> WireSettings:
    from app.jimeng.wire_settings import SETTINGS
    return SETTINGS


def _with_named_fix(checks: dict[str, Check], witness: Check) -> tuple[Check, ...]:
    """When the region's page witness named settings, every refusal as outdated says which to apply."""
    if witness.settings:
        named = "set " + " ".join(witness.settings) + " (what Jimeng's page sends, see page_witness) and restart"
        checks = {name: replace(c, fix=named) if c.code in ("upstream_changed", "invalid_request")
                  and name != "page_witness" else c for name, c in checks.items()}
    return tuple(checks[name] for name in CHECKS)
