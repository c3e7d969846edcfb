"""What our client sends for a call, set beside what a browser sent for it: every query parameter,
header and JSON body field (inside `draft_content` and the other JSON-string fields too) that
differs, each with the setting that would make ours like theirs.

Ours is recorded from the client itself (`RecordingClient`: the same named call, the same URL,
header and body builders, the operator's wire settings; only the socket is replaced), so the
comparison cannot drift from what is really sent. Values that are random or belong to one session
(ids, signatures, cookies, times, prompts, uploaded URIs) are compared by presence only; headers
the browser sets itself are not compared; so is any value holding one of the capture's cookies or
session ids (or shaped like one), which is never shown nor proposed as a setting. The bodies are
compared within bounds (size, nesting, values, steps) and with pauses for the caller, so that no
capture holds a worker for long: past a bound, a body is reported as not compared, with the reason.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from app.jimeng import constants, wire_settings
from app.jimeng.browser import TransportPolicy
from app.jimeng.capture_secrets import looks_like_a_session
from app.jimeng.client import JimengClient, make_session
from app.jimeng.har import MAX_FIELDS, CapturedCall
from app.jimeng.wire_settings import Edit, WireSettings

PRESENT = "(present)"
SHOWN_CHARS = 200

# Query parameters Jimeng's page script appends (the browser transport gets them from the page).
PAGE_SIGNATURE_PARAMS = frozenset({"mstoken", "a_bogus", "x-bogus", "x-gnarly", "verifyfp", "fp", "_signature"})
# Headers the browser sets itself (or that depend on where the page is, or that we choose on purpose:
# `Accept-Encoding` gzip, deflate since requests decodes no br/zstd).
NOT_COMPARED_HEADERS = frozenset({"host", "connection", "content-length", "accept-encoding", "origin", "referer",
                                  "accept-language", "priority", "dnt", "sec-gpc", "upgrade-insecure-requests", "te",
                                  "keep-alive"})
# The settings that control a header or query value (app/jimeng/constants.py).
HEADER_CONSTANTS = {"appvr": "APP_VERSION", "pf": "PLATFORM_CODE", "app-sdk-version": "APP_SDK_VERSION",
                    "sign-ver": "SIGN_VERSION", "user-agent": "CHROME_UA", "sec-ch-ua": "SEC_CH_UA",
                    "sec-ch-ua-platform": "SEC_CH_UA_PLATFORM"}
QUERY_CONSTANTS = {"da_version": "DA_VERSION", "web_version": "WEB_VERSION"}
# Draft versions: the constant whose value a `...version` field of a generate body carries.
BODY_VERSION_CONSTANTS = ("DRAFT_VERSION", "VIDEO_MIN_VERSION", "OMNI_MIN_VERSION", "IMAGE_DRAFT_VERSION",
                          "IMAGE_MIN_VERSION", "BLEND_MIN_VERSION")
# Words of a name whose value is per session, per call or random: compared by presence only.
_VOLATILE_WORDS = frozenset({"id", "ids", "uri", "vid", "seed", "prompt", "text", "time", "token", "csrf", "session",
                             "sessionid", "cookie", "sign", "signature", "bogus", "gnarly", "trace", "logid", "uid",
                             "webid", "tdid", "nonce", "timestamp", "auth", "authorization", "password", "secret",
                             "sid", "ssid", "sess", "passport"})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _words(name: str) -> set[str]:
    return {w.lower() for part in re.split(r"[-_.]", name) for w in _WORDS.findall(part)} | {name.lower()}


@functools.lru_cache(maxsize=4096)
def volatile(name: str) -> bool:
    """Is a field of this name per session or random (compared by presence only)?"""
    return bool(_words(name) & _VOLATILE_WORDS)


# -- recording what we send ------------------------------------------------------------------------

@dataclass(frozen=True)
class SentRequest:
    """A request exactly as our client puts it on the wire."""

    url: str
    headers: dict[str, str]
    body: bytes


class _Recorded(Exception):
    def __init__(self, request: SentRequest) -> None:
        super().__init__("recorded")
        self.request = request


class RecordingClient(JimengClient):
    """A JimengClient that records the request a named call would send, and sends nothing."""

    def __init__(self, *, upstream_url: str = "", wire: WireSettings | None = None) -> None:
        super().__init__(upstream_url=upstream_url, session=make_session(1), policy=TransportPolicy("off"),
                         read_attempts=1, wire=wire)

    def _send(self, url: str, path: str, headers: dict, raw: bytes, proxies: dict | None,
              seconds: float) -> dict:
        raise _Recorded(SentRequest(url, self.sent_headers(headers, raw), raw))

    def record(self, make_call: Callable[[JimengClient], object]) -> SentRequest | None:
        """The request `make_call(self)` sends (None: it sends none, e.g. a call of another region)."""
        try:
            make_call(self)
        except _Recorded as recorded:
            return recorded.request
        return None


# -- differences -----------------------------------------------------------------------------------

# Bounds of one call's comparison. Jimeng's bodies are a few KB, about 15 levels deep (draft_content's
# inside included) and a few hundred values: past these bounds a body is not compared, and the
# report says so with the reason, so that no capture holds a worker for long.
MAX_COMPARED_BODY_CHARS = 1024 * 1024       # either side's body
MAX_BODY_DEPTH = 64                         # nesting, JSON-string fields' inside included
MAX_BODY_VALUES = 20_000                    # values of either side's body
MAX_STEPS = 200_000                         # comparisons of one call's bodies (renames tried included)
MAX_DIFFERENCES = 200                       # listed per call; the settings are named from the listed ones
MAX_SETTING_CHARS = 4096                    # a longer value is shown, never proposed as a setting
PAUSE_EVERY = 64                            # steps between two calls of the caller's pause
SECRET_NOTE = "holds a cookie or session id of the capture: compared by presence only"
PER_SESSION_NOTE = "a per-session value: compared by presence only"


@dataclass(frozen=True)
class Suggestion:
    """A setting that makes ours like theirs: a constant's new value, or a wire edit."""

    var: str
    value: str = ""
    edit: Edit | None = None

    @property
    def line(self) -> str:
        return f"{self.var}={self.edit.entry() if self.edit else self.value}"


@dataclass(frozen=True)
class Difference:
    where: str                      # query, header or body
    name: str                       # parameter or header name, or a dotted body path
    ours: str | None                # None: we do not send it; "(present)" for per-session values
    theirs: str | None
    suggestion: Suggestion | None = None
    apply: bool = False             # part of the settings to apply (removals and additions to a body are not)
    note: str = ""

    def as_dict(self) -> dict:
        answer = {"where": self.where, "name": self.name, "ours": self.ours, "theirs": self.theirs,
                  "setting": self.suggestion.line if self.suggestion else None}
        if self.note:
            answer["note"] = self.note
        return answer


@dataclass(frozen=True)
class NotCompared:
    """A part of a call left out of the comparison, and why (a bound of the comparison)."""

    where: str
    name: str
    reason: str

    def as_dict(self) -> dict:
        return {"where": self.where, "name": self.name, "reason": self.reason}


@dataclass(frozen=True)
class Comparison:
    differences: tuple[Difference, ...] = ()
    not_compared: tuple[NotCompared, ...] = ()


def compare(call: str, captured: CapturedCall, ours: SentRequest, *, model: str = "",
            secret: Callable[[str], bool] = looks_like_a_session, pause: Callable[[], None] | None = None,
            body_left_out: str = "") -> Comparison:
    """Every difference between our request and the captured one (`model`: our model name for a
    generate). A value for which `secret` is true (a cookie or session id of the capture) is compared
    by presence only, never shown nor proposed. `pause` is called every few steps of the bodies'
    comparison; `body_left_out` says why the bodies are not compared, if they are not."""
    from urllib.parse import parse_qsl, urlsplit

    left_out = []
    found: list[Difference] = []
    if len(captured.query) > MAX_FIELDS:
        left_out.append(NotCompared("query", "(query)", f"the browser's call has more than {MAX_FIELDS:,} query "
                                                        f"parameters"))
    else:
        our_query = parse_qsl(urlsplit(ours.url).query, keep_blank_values=True)
        found += _compare_query(call, our_query, list(captured.query), secret)
    if len(captured.headers) > MAX_FIELDS:
        left_out.append(NotCompared("header", "(headers)", f"the browser's call has more than {MAX_FIELDS:,} headers"))
    else:
        found += _compare_headers(call, list(ours.headers.items()), list(captured.headers), secret)
    unlisted = max(len(found) - MAX_DIFFERENCES, 0)
    found = found[:MAX_DIFFERENCES]
    bodies = _Bodies(call, model, secret, pause, room=MAX_DIFFERENCES - len(found))
    if body_left_out:
        left_out.append(NotCompared("body", "(body)", body_left_out))
    else:
        try:
            found += bodies.compare(ours.body.decode("utf-8", "replace"), captured.body or "")
            unlisted += bodies.unlisted
        except _OverBound as exc:
            left_out.append(NotCompared("body", "(body)", str(exc)))
    if unlisted:
        left_out.append(NotCompared("call", "(differences)", f"{unlisted:,} more differences past the first "
                                                             f"{MAX_DIFFERENCES} are not listed, nor settings named "
                                                             f"from them"))
    return Comparison(tuple(_proposable(d, secret) for d in found), tuple(left_out))


def _proposable(diff: Difference, secret: Callable[[str], bool]) -> Difference:
    """The difference as reported: a setting that would carry a secret, or too long a value, is not proposed."""
    if diff.suggestion is None:
        return diff
    line = diff.suggestion.line
    if len(line) > MAX_SETTING_CHARS:
        return replace(diff, suggestion=None, apply=False,
                       note=f"a setting of {len(line):,} characters is not proposed")
    if secret(line):
        return replace(diff, suggestion=None, apply=False, note=SECRET_NOTE)
    return diff


def _compare_query(call: str, ours: list[tuple[str, str]], theirs: list[tuple[str, str]],
                   secret: Callable[[str], bool]) -> list[Difference]:
    ours_map, theirs_map = dict(ours), dict(theirs)
    found = []
    for name in _ordered(ours_map, theirs_map):
        if name.lower() in PAGE_SIGNATURE_PARAMS:
            continue
        found += _pair("query", call, name, ours_map.get(name), theirs_map.get(name), QUERY_CONSTANTS.get(name),
                       secret)
    return found


def _compare_headers(call: str, ours: list[tuple[str, str]], theirs: list[tuple[str, str]],
                     secret: Callable[[str], bool]) -> list[Difference]:
    ours_map = {k.lower(): (k, v) for k, v in ours}
    theirs_map = {k.lower(): (k, v) for k, v in theirs}
    found = []
    for lowered in _ordered(ours_map, theirs_map):
        if lowered in NOT_COMPARED_HEADERS or lowered.startswith(("sec-fetch-", "proxy-")):
            continue
        spelled = (ours_map.get(lowered) or theirs_map.get(lowered))[0]
        name = spelled if lowered in ours_map else "-".join(p.capitalize() for p in lowered.split("-"))
        mine, their = (ours_map.get(lowered) or (None, None))[1], (theirs_map.get(lowered) or (None, None))[1]
        if lowered == "content-type" and mine is not None and their is not None:
            mine, their = mine.split(";")[0].strip().lower(), their.split(";")[0].strip().lower()
        found += _pair("header", call, name, mine, their, HEADER_CONSTANTS.get(lowered), secret)
    return found


def _pair(where: str, call: str, name: str, mine: str | None, their: str | None,
          constant: str | None, secret: Callable[[str], bool]) -> list[Difference]:
    """The difference of one header or query parameter, if any."""
    if mine == their:
        return []
    kind = "header" if where == "header" else "query"
    var = wire_settings.EXTRA_HEADERS if kind == "header" else wire_settings.EXTRA_QUERY
    holds_secret = any(value is not None and secret(value) for value in (mine, their))
    if holds_secret or (constant is None and volatile(name)):
        if (mine is None) == (their is None):
            return []
        return [Difference(where, name, _present(mine), _present(their),
                           note=SECRET_NOTE if holds_secret else PER_SESSION_NOTE)]
    if their is None:
        return [Difference(where, name, _cut(mine), None, Suggestion(var, edit=Edit(kind, call, name, drop=True)))]
    if constant is not None and mine is not None:
        return [_constant_difference(where, name, mine, their, constant)]
    return [Difference(where, name, _cut(mine), _cut(their), Suggestion(var, edit=Edit(kind, call, name, their)),
                       apply=True)]


def _constant_difference(where: str, name: str, mine: str, their: str, constant: str) -> Difference:
    var = constants.ENV_PREFIX + constant
    problems = wire_settings.parse({var: their}).problems
    if problems:
        return Difference(where, name, _cut(mine), _cut(their),
                          note=f"{var} cannot take the browser's value: {problems[0]}")
    return Difference(where, name, _cut(mine), _cut(their), Suggestion(var, their), apply=True)


def _cut(text: str | None) -> str | None:
    """A value as shown: at most SHOWN_CHARS (the setting, if any, carries it whole)."""
    return text if text is None or len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _present(value: str | None) -> str | None:
    return None if value is None else PRESENT


def _ordered(ours: dict, theirs: dict) -> list[str]:
    return list(ours) + [name for name in theirs if name not in ours]


# -- bodies ----------------------------------------------------------------------------------------

_ABSENT = object()


class _OverBound(Exception):
    """The bodies went past a bound of the comparison; the message says which."""


class _Differs(Exception):
    """A difference found while only asking whether two values are the same (a rename's test)."""


def parsed_body(text: str) -> tuple[Any, str]:
    """A captured body's JSON, within the comparison's bounds: (value, "") or (None, why not);
    (None, "") when it is not JSON."""
    try:
        value = _Bodies("", "", looks_like_a_session, None).load(text, "browser's")
    except _OverBound as exc:
        return None, str(exc)
    return (None, "") if value is _ABSENT or isinstance(value, str) else (value, "")


class _Bodies:
    """One call's two bodies compared, within the bounds above: every step counts, and the caller's
    pause is called every PAUSE_EVERY steps so that a worker's other requests are answered meanwhile."""

    def __init__(self, call: str, model: str, secret: Callable[[str], bool], pause: Callable[[], None] | None,
                 room: int = MAX_DIFFERENCES) -> None:
        self.call, self.model, self.secret, self.pause = call, model, secret, pause
        self.room = room            # differences still to list; past it they are only counted
        self.unlisted = 0
        self.probing = 0            # > 0: asking whether two values are the same, nothing is listed
        self.steps = 0
        self.values = {"our": 0, "browser's": 0}
        self.inner_json: dict[int, tuple[str, Any]] = {}     # id -> (the text, kept alive; its JSON)

    def differ(self, make: Callable[[], Difference | None]) -> list[Difference]:
        """A difference found: listed while there is room (`make` builds it), else counted."""
        if self.probing:
            raise _Differs
        if self.room <= 0:
            self.unlisted += 1
            return []
        difference = make()
        if difference is None:
            return []
        self.room -= 1
        return [difference]

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _OverBound(f"the bodies take more than {MAX_STEPS:,} steps to compare")
        if self.pause is not None and not self.steps % PAUSE_EVERY:
            self.pause()

    def compare(self, ours_text: str, theirs_text: str) -> list[Difference]:
        ours, theirs = self.load(ours_text, "our"), self.load(theirs_text, "browser's")
        if ours is _ABSENT and theirs is _ABSENT:
            return []
        if not isinstance(ours, (dict, list)) or not isinstance(theirs, (dict, list)):
            if ours_text.strip() == theirs_text.strip():
                return []
            return self.differ(lambda: Difference("body", "(body)", self.shown(ours) if ours is not _ABSENT else None,
                                                  self.shown(theirs) if theirs is not _ABSENT else None,
                                                  note="not a JSON object on both sides: compared as a whole"))
        return self.tree(ours, theirs, "", 0)

    def load(self, text: str, side: str) -> Any:
        if not text.strip():
            return _ABSENT
        if len(text) > MAX_COMPARED_BODY_CHARS:
            raise _OverBound(f"the {side} body has {len(text):,} characters, over the "
                             f"{MAX_COMPARED_BODY_CHARS:,} compared")
        try:
            value = json.loads(text)
        except RecursionError:
            raise _OverBound(f"the {side} body is nested deeper than {MAX_BODY_DEPTH} levels") from None
        except ValueError:
            return text
        self.measure(value, 0, side)
        return value

    def measure(self, value: Any, depth: int, side: str) -> None:
        """Count a parsed value's values against the bounds (a walk without recursion: any depth)."""
        pending = [(value, depth)]
        while pending:
            node, level = pending.pop()
            self.values[side] += 1
            if self.values[side] > MAX_BODY_VALUES:
                raise _OverBound(f"the {side} body holds more than {MAX_BODY_VALUES:,} values")
            if level > MAX_BODY_DEPTH:
                raise _OverBound(f"the {side} body is nested deeper than {MAX_BODY_DEPTH} levels")
            if isinstance(node, dict):
                pending.extend((child, level + 1) for child in node.values())
            elif isinstance(node, list):
                pending.extend((child, level + 1) for child in node)
            self.step()

    def inner(self, value: Any, depth: int, side: str) -> Any:
        """A JSON-string field's parsed content (draft_content, metrics_extra, sceneOptions), else itself."""
        if not (isinstance(value, str) and value[:1] in ("{", "[")):
            return value
        known = self.inner_json.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        try:
            parsed = json.loads(value)
        except RecursionError:
            raise _OverBound(f"the {side} body is nested deeper than {MAX_BODY_DEPTH} levels") from None
        except ValueError:
            parsed = value
        else:
            self.measure(parsed, depth, side)
        self.inner_json[id(value)] = (value, parsed)
        return parsed

    def tree(self, ours: Any, theirs: Any, path: str, depth: int) -> list[Difference]:
        self.step()
        ours, theirs = self.inner(ours, depth, "our"), self.inner(theirs, depth, "browser's")
        key = path.rsplit(".", 1)[-1]
        if path and volatile(key) and not key.isdigit():
            return []       # present on both sides: that is all we compare
        if isinstance(ours, dict) and isinstance(theirs, dict):
            return self.dicts(ours, theirs, path, depth)
        if isinstance(ours, list) and isinstance(theirs, list):
            found = []
            for i in range(max(len(ours), len(theirs))):
                here = _join(path, i)
                if i >= len(ours):
                    found += self.differ(lambda: self.only_theirs(here, theirs[i], depth + 1))
                elif i >= len(theirs):
                    found += self.differ(lambda: self.only_ours(here, ours[i]))
                else:
                    found += self.tree(ours[i], theirs[i], here, depth + 1)
            return found
        if ours == theirs and type(ours) is type(theirs):
            return []
        return self.differ(lambda: self.body_value(path, ours, theirs))

    def dicts(self, ours: dict, theirs: dict, path: str, depth: int) -> list[Difference]:
        found = []
        only_ours = [k for k in ours if k not in theirs]
        only_theirs = [k for k in theirs if k not in ours]
        for old in list(only_ours):       # a field Jimeng renamed: same value, another name, same place
            new = next((k for k in only_theirs if self.same(_join(path, old), ours[old], theirs[k], depth + 1)), None)
            if new is not None:
                only_ours.remove(old)
                only_theirs.remove(new)
                here = _join(path, old)
                found += self.differ(lambda: Difference(
                    "body", here, f"named {old}", f"named {new}", Suggestion(
                        wire_settings.BODY_FIELDS, edit=Edit("body", self.call, here, rename_to=new)), apply=True,
                    note=f"renamed: {self.shown(ours[old])}"))
        for key in ours:
            if key in theirs:
                found += self.tree(ours[key], theirs[key], _join(path, key), depth + 1)
            elif key in only_ours:
                found += self.differ(lambda: self.only_ours(_join(path, key), ours[key]))
        for key in only_theirs:
            found += self.differ(lambda: self.only_theirs(_join(path, key), theirs[key], depth + 1))
        return found

    def same(self, path: str, ours: Any, theirs: Any, depth: int) -> bool:
        """Do two fields hold the same value (a rename)? Values too plain to tell fields apart never match."""
        self.step()
        ours, theirs = self.inner(ours, depth, "our"), self.inner(theirs, depth, "browser's")
        if ours in (None, "", 0, [], {}) or isinstance(ours, bool):
            return False
        if volatile(path.rsplit(".", 1)[-1]):
            return ours == theirs
        self.probing += 1
        try:
            self.tree(ours, theirs, path, depth)
        except _Differs:
            return False
        finally:
            self.probing -= 1
        return True

    def only_ours(self, path: str, value: Any) -> Difference:
        return Difference("body", path, PRESENT if volatile(path.rsplit(".", 1)[-1]) else self.shown(value), None,
                          Suggestion(wire_settings.BODY_FIELDS, edit=Edit("body", self.call, path, drop=True)))

    def only_theirs(self, path: str, value: Any, depth: int) -> Difference:
        if volatile(path.rsplit(".", 1)[-1]):
            return Difference("body", path, None, PRESENT, note="a per-session value: we cannot set it")
        return Difference("body", path, None, self.shown(value), Suggestion(
            wire_settings.BODY_FIELDS, edit=Edit("body", self.call, path, self.inner(value, depth, "browser's"))))

    def body_value(self, path: str, ours: Any, theirs: Any) -> Difference | None:
        key = path.rsplit(".", 1)[-1]
        mine, their = self.shown(ours), self.shown(theirs)
        if PRESENT in (mine, their):
            return None     # a secret on either side: present on both, that is all we compare
        if self.call == "generate" and key.endswith("version") and isinstance(theirs, str):
            for constant in BODY_VERSION_CONSTANTS:
                if ours == constants.current()[constant]:
                    return _constant_difference("body", path, mine, theirs, constant)
        if self.call == "generate" and key == "benefit_type" and self.model and isinstance(theirs, str):
            return Difference("body", path, mine, their,
                              Suggestion(wire_settings.BENEFIT_TYPES, f"{self.model}={theirs}"), apply=True)
        return Difference("body", path, mine, their,
                          Suggestion(wire_settings.BODY_FIELDS, edit=Edit("body", self.call, path, theirs)), apply=True)

    def shown(self, value: Any) -> str:
        """A value as the report shows it: cut to SHOWN_CHARS, or PRESENT when it holds a secret."""
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return PRESENT if self.secret(text) else _cut(text)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# -- the settings to apply -------------------------------------------------------------------------

def settings_to_apply(differences: list[tuple[str, Difference]], wire: WireSettings) -> list[str]:
    """`NAME=value` lines that make ours like theirs, from (call, difference) pairs; a wire edit seen
    on every compared call (two or more) is written once for every call (`*:`), and the edits already
    in force are kept."""
    lines: dict[str, str] = {}
    edits: dict[str, list[Edit]] = {}
    calls = {call for call, _ in differences}
    for _, diff in differences:
        if not diff.apply or diff.suggestion is None:
            continue
        if diff.suggestion.edit is None:
            lines.setdefault(diff.suggestion.var, diff.suggestion.line)
        else:
            edits.setdefault(diff.suggestion.var, []).append(diff.suggestion.edit)
    for var, wanted in edits.items():
        lines[var] = f"{var}={SEPARATOR.join(_merged(wire.raw.get(var, ''), _everywhere(wanted, calls)))}"
    return [lines[var] for var in sorted(lines)]


SEPARATOR = wire_settings.SEPARATOR


def _everywhere(edits: list[Edit], calls: set[str]) -> list[Edit]:
    """Edits made alike for every call compared become one `*` edit."""
    groups: dict[tuple, set[str]] = {}
    for edit in edits:
        groups.setdefault((edit.kind, edit.name.lower(), json.dumps(edit.value), edit.drop, edit.rename_to),
                          set()).add(edit.call)
    result, done = [], set()
    for edit in edits:
        key = (edit.kind, edit.name.lower(), json.dumps(edit.value), edit.drop, edit.rename_to)
        if len(calls) >= 2 and groups[key] >= calls and edit.kind != "body":
            if key not in done:
                done.add(key)
                result.append(Edit(edit.kind, wire_settings.EVERY_CALL, edit.name, edit.value, edit.drop,
                                   edit.rename_to))
        elif (edit.call, edit.name.lower()) not in {(e.call, e.name.lower()) for e in result}:
            result.append(edit)
    return result


def _merged(current: str, new: list[Edit]) -> list[str]:
    """The entries in force, the new ones replacing those about the same call and name."""
    replaced = {(e.call, e.name.lower()) for e in new}
    kept = []
    for entry in (part.strip() for part in current.split(SEPARATOR) if part.strip()):
        call, _, rest = entry.partition(":")
        name = re.split(r"[=>]", rest.lstrip("-"), maxsplit=1)[0].strip().lower()
        if (call.strip(), name) not in replaced:
            kept.append(entry)
    return kept + [e.entry() for e in new]
