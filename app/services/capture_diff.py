"""The capture diff: a browser's calls to Jimeng (an operator's HAR file, or what the doctor's page
witness saw) set beside what our client sends for the same calls, ending with the settings to apply.

For each Jimeng call of the capture that our client also makes (matched by host and path), our
request is built by the client's own named call with the arguments our services give it (the
capture's ids, counts and media where the call takes them), recorded instead of sent
(app/jimeng/wire_diff.py), and compared field by field. Nothing is sent, nothing of the capture is
kept, and the report carries no cookie or session id: the capture's cookies (from wherever the
capture carries them) and any value shaped like a session id are compared by presence only, never
shown nor proposed, and every text of the report is masked.

The comparison is bounded (app/jimeng/wire_diff.py per call, MAX_CAPTURE_COMPARED_CHARS for the whole
capture) and calls the caller's pause every few steps (under gevent, the worker's other requests run
then): what a bound leaves out is listed as not compared, with why.
"""
from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.errors import ServiceError
from app.jimeng import payloads, uploads
from app.jimeng.calls import CALL_NAMES
from app.jimeng.captured_drafts import Unreadable, read_generate
from app.jimeng.client import JimengClient
from app.jimeng.capture_secrets import CaptureSecrets
from app.jimeng.har import CapturedCall, is_jimeng_api, region_of, session_values
from app.jimeng.image_payloads import build_image_generate_body
from app.jimeng.regions import REGIONS, Token
from app.jimeng.wire_diff import (MAX_COMPARED_BODY_CHARS, Difference, NotCompared, RecordingClient, compare,
                                  parsed_body, settings_to_apply)
from app.jimeng.wire_settings import WireSettings
from app.serving.logs import redact, request_secrets
from app.services.daily_credits import time_zone_for
from app.services.tasks import IMAGE_INFO

# Our requests are built for a stand-in account: never the operator's session.
PLACEHOLDER_SESSION = "doctor-placeholder-session"
# The captured bodies compared in one capture, in all (each one is bounded by wire_diff's bounds too).
MAX_CAPTURE_COMPARED_CHARS = 4 * 1024 * 1024
# What a capture's values may break in our own builders: the call is then not built, with the reason.
_UNBUILDABLE = (ArithmeticError, LookupError, TypeError, ValueError, RecursionError)


@dataclass(frozen=True)
class CallReport:
    """One call of ours, compared with the last time the capture made it."""

    call: str
    path: str
    seen: int
    differences: tuple[Difference, ...] = ()
    reason: str = ""            # why it was not built (then nothing was compared)
    not_compared: tuple[NotCompared, ...] = ()     # parts a bound of the comparison left out

    @property
    def status(self) -> str:
        if self.reason:
            return "not_built"
        if self.differences:
            return "different"
        return "partly_compared" if self.not_compared else "same"

    def as_dict(self) -> dict:
        answer: dict[str, Any] = {"call": self.call, "path": self.path, "seen": self.seen, "status": self.status}
        if self.reason:
            answer["reason"] = self.reason
        answer["differences"] = [d.as_dict() for d in self.differences]
        answer["not_compared"] = [n.as_dict() for n in self.not_compared]
        return answer


@dataclass(frozen=True)
class CaptureReport:
    requests: int                                    # requests in the capture
    jimeng_calls: int                                # of them, calls to Jimeng's API
    compared: tuple[CallReport, ...] = ()
    other_calls: tuple[tuple[str, int], ...] = ()    # Jimeng API paths we never call, with counts
    settings: tuple[str, ...] = ()
    summary: str = ""
    secrets: CaptureSecrets = field(default_factory=CaptureSecrets, repr=False)    # to mask

    def as_dict(self) -> dict:
        """The report as answered: the capture's secrets (and the request's) masked in every form, and
        anything shaped like a session id, and what log lines mask (bearer values, `sessionid=`...)."""
        secrets = self.secrets | request_secrets.get()
        patterns = contextvars.Context()      # app.serving.logs.redact's patterns alone: the secrets are done
        return _masked({"summary": self.summary, "requests": self.requests, "jimeng_calls": self.jimeng_calls,
                        "comparison": [c.as_dict() for c in self.compared],
                        "calls_we_never_make": [{"path": p, "seen": n} for p, n in self.other_calls],
                        "settings": list(self.settings)},
                       lambda text: patterns.run(redact, secrets.masked(text)))


def diff_capture(calls: Sequence[CapturedCall], *, upstream_url: str, wire: WireSettings,
                 secrets: Iterable[str] = (), pause: Callable[[], None] | None = None) -> CaptureReport:
    """Compare every Jimeng call of a capture that our client also makes; the settings that make ours like
    theirs. `secrets`: the capture's cookie values beyond its calls' Cookie headers (read_har's);
    `pause`: called every few steps of the work (the caller's chance to let others run)."""
    known = CaptureSecrets({*secrets, *session_values(calls), *request_secrets.get()})
    patterns = contextvars.Context()      # app.serving.logs.redact's patterns alone (bearer values, `sessionid=`...)

    def secret(text: str) -> bool:
        return known.held_in(text) or patterns.run(redact, text) != text

    extra = {urlsplit(upstream_url).netloc.lower()} if upstream_url else set()
    api = [c for c in calls if is_jimeng_api(c, extra)]
    if not api:
        return CaptureReport(len(calls), 0, secrets=known, summary=(
            "the capture holds no call to Jimeng's API (jimeng.jianying.com, the Dreamina hosts): record it on "
            "Jimeng's own page while doing the action that fails, then export the network log as HAR"))
    last: dict[str, CapturedCall] = {}
    seen: dict[str, int] = {}
    for call in api:
        seen[call.path] = seen.get(call.path, 0) + 1
        if call.path in CALL_NAMES:
            last[call.path] = call
    recorder = RecordingClient(upstream_url=upstream_url, wire=wire)
    reports, compared_chars = [], 0
    for path, captured in last.items():
        size = len(captured.body or "")
        size = size if size <= MAX_COMPARED_BODY_CHARS else 0       # refused as it is, by its own bound
        left_out = "" if compared_chars + size <= MAX_CAPTURE_COMPARED_CHARS else (
            f"the capture's bodies compared before it reach {compared_chars:,} characters, and "
            f"{MAX_CAPTURE_COMPARED_CHARS:,} are compared in all")
        compared_chars += 0 if left_out else size
        reports.append(_compared(recorder, CALL_NAMES[path], captured, seen[path], secret, pause, left_out))
        if pause is not None:
            pause()
    pairs = [(r.call, d) for r in reports for d in r.differences]
    settings = tuple(settings_to_apply(pairs, wire))
    others = tuple(sorted((p, n) for p, n in seen.items() if p not in CALL_NAMES))
    return CaptureReport(len(calls), len(api), tuple(reports), others, settings,
                         _summary(reports, others, settings), known)


def _summary(reports: Sequence[CallReport], others: Sequence, settings: Sequence[str]) -> str:
    if not reports:
        return (f"none of the capture's {sum(n for _, n in others)} Jimeng calls is one our client makes; "
                f"their paths are listed in calls_we_never_make")
    different = [r.call for r in reports if r.status == "different"]
    text = f"{len(reports)} of our calls compared; " + (
        f"{len(different)} differ ({', '.join(different)})" if different else "all match what the browser sent")
    partly = [r.call for r in reports if r.not_compared]
    if partly:
        text += f"; parts of {len(partly)} not compared ({', '.join(partly)}: see not_compared)"
    if settings:
        text += f"; apply {len(settings)} setting(s) and restart: " + " ".join(settings)
    return text


def _compared(recorder: RecordingClient, name: str, captured: CapturedCall, seen: int,
              secret: Callable[[str], bool], pause: Callable[[], None] | None, left_out: str) -> CallReport:
    path = captured.path
    token = Token(session_id=PLACEHOLDER_SESSION, region=REGIONS[region_of(captured)])
    body, over = parsed_body(captured.body or "") if not left_out else (None, left_out)
    if over and name == "generate":
        return CallReport(name, path, seen, reason=f"the generate cannot be read back: {over}")
    try:
        make_call, model = BUILDERS[name](token, body if isinstance(body, dict) else {})
        ours = recorder.record(make_call)
    except Unreadable as exc:
        return CallReport(name, path, seen, reason=str(exc))
    except ServiceError as exc:
        return CallReport(name, path, seen, reason=f"our client cannot build this call from the captured values: "
                                                   f"{exc.message}")
    except _UNBUILDABLE as exc:
        return CallReport(name, path, seen, reason=f"our client cannot build this call from the captured values "
                                                   f"({type(exc).__name__})")
    if ours is None:
        return CallReport(name, path, seen, reason=f"our client does not make this call for a {token.region.code} "
                                                   f"account")
    comparison = compare(name, captured, ours, model=model, secret=secret, pause=pause, body_left_out=over)
    return CallReport(name, path, seen, comparison.differences, not_compared=comparison.not_compared)


Builder = Callable[[Token, dict], tuple[Callable[[JimengClient], object], str]]


def _ids(body: dict, name: str) -> list[str]:
    values = body.get(name)
    return [str(v) for v in values] if isinstance(values, list) and values else ["0"]


def _int(body: dict, name: str, default: int) -> int:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _file_uri(body: dict) -> str:
    files = body.get("file_list")
    first = files[0] if isinstance(files, list) and files and isinstance(files[0], dict) else {}
    return str(first.get("file_uri") or "tos-cn-i-placeholder/0")


def _history(token: Token, body: dict):
    field = "submit_ids" if body.get("submit_ids") and not body.get("history_ids") else "history_ids"
    image_info = IMAGE_INFO if "image_info" in body else None   # our image queries send it, video ones do not
    return (lambda c: c.history_by_ids(token, _ids(body, field), id_field=field, image_info=image_info)), ""


def _history_list(token: Token, body: dict):
    types = body.get("history_type_list")
    types = tuple(t for t in types if isinstance(t, int)) if isinstance(types, list) else ()
    return (lambda c: c.history_list(token, count=_int(body, "count", 20), offset=_int(body, "offset", 0),
                                     **({"types": types} if types else {}))), ""


def _generate(token: Token, body: dict):
    kind, draft, workspace = read_generate(body, token.region.code)
    submit_id = str(uuid.uuid4())
    workspace = workspace if token.region.code != "cn" else None
    if kind == "video":
        ours = payloads.build_video_generate_body(draft, submit_id=submit_id, workspace_id=workspace)
    else:
        ours = build_image_generate_body(draft, submit_id=submit_id, workspace_id=workspace)
    return (lambda c: c.generate(token, ours, kind=kind)), draft.model.name


BUILDERS: dict[str, Builder] = {
    "generate": _generate,
    "history": _history,
    "history_list": _history_list,
    "upload_token": lambda t, b: ((lambda c: c.upload_token(t, _int(b, "scene", uploads.IMAGE_SCENE))), ""),
    "content_check": lambda t, b: ((lambda c: uploads.check_image_content(c, t, _file_uri(b))), ""),
    "local_items": lambda t, b: ((lambda c: c.local_items(t, _ids(b, "item_id_list"))), ""),
    "credits": lambda t, b: ((lambda c: c.credits(t)), ""),
    "credit_receive": lambda t, b: ((lambda c: c.receive_credits(t, time_zone_for(t))), ""),
    "account": lambda t, b: ((lambda c: c.account_alive(t)), ""),
    "catalogue": lambda t, b: ((lambda c: c.video_config(t)), ""),
    "workspaces": lambda t, b: ((lambda c: c.workspaces(t)), ""),
}


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [_masked(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v, mask) for k, v in value.items()}
    return value

