"""What our client sends for a call, set beside what a browser sent for it: every query parameter,
header and JSON body field (inside `draft_content` and the other JSON-string fields too) that
differs, each with the setting that would make ours like theirs.

Ours is recorded from the client itself (`RecordingClient`: the same named call, the same URL,
header and body builders, the operator's wire settings; only the socket is replaced), so the
comparison cannot drift from what is really sent. Values that are random or belong to one session
(ids, signatures, cookies, times, prompts, uploaded URIs) are compared by presence only; headers
the browser sets itself are not compared.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.jimeng import constants, wire_settings
from app.jimeng.browser import TransportPolicy
from app.jimeng.client import JimengClient, make_session
from app.jimeng.har import CapturedCall
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
                             "webid", "tdid", "nonce", "timestamp", "auth", "authorization", "password", "secret"})
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _words(name: str) -> set[str]:
    return {w.lower() for part in re.split(r"[-_.]", name) for w in _WORDS.findall(part)} | {name.lower()}


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


def compare(call: str, captured: CapturedCall, ours: SentRequest, *, model: str = "") -> list[Difference]:
    """Every difference between our request and the captured one (`model`: our model name for a generate)."""
    from urllib.parse import parse_qsl, urlsplit

    our_query = parse_qsl(urlsplit(ours.url).query, keep_blank_values=True)
    found = _compare_query(call, our_query, list(captured.query))
    found += _compare_headers(call, list(ours.headers.items()), list(captured.headers))
    found += _compare_body(call, ours.body.decode("utf-8", "replace"), captured.body or "", model)
    return found


def _compare_query(call: str, ours: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> list[Difference]:
    ours_map, theirs_map = dict(ours), dict(theirs)
    found = []
    for name in _ordered(ours_map, theirs_map):
        if name.lower() in PAGE_SIGNATURE_PARAMS:
            continue
        found += _pair("query", call, name, ours_map.get(name), theirs_map.get(name), QUERY_CONSTANTS.get(name))
    return found


def _compare_headers(call: str, ours: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> list[Difference]:
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
        found += _pair("header", call, name, mine, their, HEADER_CONSTANTS.get(lowered))
    return found


def _pair(where: str, call: str, name: str, mine: str | None, their: str | None,
          constant: str | None) -> list[Difference]:
    """The difference of one header or query parameter, if any."""
    if mine == their:
        return []
    kind = "header" if where == "header" else "query"
    var = wire_settings.EXTRA_HEADERS if kind == "header" else wire_settings.EXTRA_QUERY
    if constant is None and volatile(name):
        if (mine is None) == (their is None):
            return []
        return [Difference(where, name, _present(mine), _present(their),
                           note="a per-session value: compared by presence only")]
    if their is None:
        return [Difference(where, name, mine, None, Suggestion(var, edit=Edit(kind, call, name, drop=True)))]
    if constant is not None and mine is not None:
        return [_constant_difference(where, name, mine, their, constant)]
    return [Difference(where, name, mine, their, Suggestion(var, edit=Edit(kind, call, name, their)), apply=True)]


def _constant_difference(where: str, name: str, mine: str, their: str, constant: str) -> Difference:
    var = constants.ENV_PREFIX + constant
    problems = wire_settings.parse({var: their}).problems
    if problems:
        return Difference(where, name, mine, their, note=f"{var} cannot take the browser's value: {problems[0]}")
    return Difference(where, name, mine, their, Suggestion(var, their), apply=True)


def _present(value: str | None) -> str | None:
    return None if value is None else PRESENT


def _ordered(ours: dict, theirs: dict) -> list[str]:
    return list(ours) + [name for name in theirs if name not in ours]


# -- bodies ----------------------------------------------------------------------------------------

_ABSENT = object()


def _compare_body(call: str, ours_text: str, theirs_text: str, model: str) -> list[Difference]:
    ours, theirs = _parsed(ours_text), _parsed(theirs_text)
    if ours is _ABSENT and theirs is _ABSENT:
        return []
    if not isinstance(ours, (dict, list)) or not isinstance(theirs, (dict, list)):
        if ours_text.strip() == theirs_text.strip():
            return []
        return [Difference("body", "(body)", _shown(ours) if ours is not _ABSENT else None,
                           _shown(theirs) if theirs is not _ABSENT else None,
                           note="not a JSON object on both sides: compared as a whole")]
    return _tree(call, ours, theirs, "", model)


def _parsed(text: str) -> Any:
    if not text.strip():
        return _ABSENT
    try:
        return json.loads(text)
    except ValueError:
        return text


def _inner(value: Any) -> Any:
    """A JSON-string field's parsed content (draft_content, metrics_extra, sceneOptions), else itself."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _tree(call: str, ours: Any, theirs: Any, path: str, model: str) -> list[Difference]:
    ours, theirs = _inner(ours), _inner(theirs)
    key = path.rsplit(".", 1)[-1]
    if path and volatile(key) and not key.isdigit():
        return []       # present on both sides: that is all we compare
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return _dicts(call, ours, theirs, path, model)
    if isinstance(ours, list) and isinstance(theirs, list):
        found = []
        for i in range(max(len(ours), len(theirs))):
            here = _join(path, i)
            if i >= len(ours):
                found.append(_only_theirs(call, here, theirs[i]))
            elif i >= len(theirs):
                found.append(_only_ours(call, here, ours[i]))
            else:
                found += _tree(call, ours[i], theirs[i], here, model)
        return found
    if ours == theirs and type(ours) is type(theirs):
        return []
    return [_body_value(call, path, ours, theirs, model)]


def _dicts(call: str, ours: dict, theirs: dict, path: str, model: str) -> list[Difference]:
    found = []
    only_ours = [k for k in ours if k not in theirs]
    only_theirs = [k for k in theirs if k not in ours]
    for old in list(only_ours):       # a field Jimeng renamed: same value, another name, same place
        new = next((k for k in only_theirs if _same(call, _join(path, old), ours[old], theirs[k], model)), None)
        if new is not None:
            only_ours.remove(old)
            only_theirs.remove(new)
            here = _join(path, old)
            found.append(Difference("body", here, f"named {old}", f"named {new}", Suggestion(
                wire_settings.BODY_FIELDS, edit=Edit("body", call, here, rename_to=new)), apply=True,
                note=f"renamed: {_shown(ours[old])}"))
    for key in ours:
        if key in theirs:
            found += _tree(call, ours[key], theirs[key], _join(path, key), model)
        elif key in only_ours:
            found.append(_only_ours(call, _join(path, key), ours[key]))
    for key in only_theirs:
        found.append(_only_theirs(call, _join(path, key), theirs[key]))
    return found


def _same(call: str, path: str, ours: Any, theirs: Any, model: str) -> bool:
    """Do two fields hold the same value (a rename)? Values too plain to tell fields apart never match."""
    ours, theirs = _inner(ours), _inner(theirs)
    if ours in (None, "", 0, [], {}) or isinstance(ours, bool):
        return False
    if volatile(path.rsplit(".", 1)[-1]):
        return ours == theirs
    return not _tree(call, ours, theirs, path, model)


def _only_ours(call: str, path: str, value: Any) -> Difference:
    return Difference("body", path, _shown_field(path, value), None,
                      Suggestion(wire_settings.BODY_FIELDS, edit=Edit("body", call, path, drop=True)))


def _only_theirs(call: str, path: str, value: Any) -> Difference:
    if volatile(path.rsplit(".", 1)[-1]):
        return Difference("body", path, None, PRESENT, note="a per-session value: we cannot set it")
    return Difference("body", path, None, _shown(value),
                      Suggestion(wire_settings.BODY_FIELDS, edit=Edit("body", call, path, _inner(value))))


def _body_value(call: str, path: str, ours: Any, theirs: Any, model: str) -> Difference:
    key = path.rsplit(".", 1)[-1]
    mine, their = _shown(ours), _shown(theirs)
    if call == "generate" and key.endswith("version") and isinstance(theirs, str):
        for constant in BODY_VERSION_CONSTANTS:
            if ours == constants.current()[constant]:
                return _constant_difference("body", path, mine, theirs, constant)
    if call == "generate" and key == "benefit_type" and model and isinstance(theirs, str):
        return Difference("body", path, mine, their,
                          Suggestion(wire_settings.BENEFIT_TYPES, f"{model}={theirs}"), apply=True)
    return Difference("body", path, mine, their,
                      Suggestion(wire_settings.BODY_FIELDS, edit=Edit("body", call, path, theirs)), apply=True)


def _shown_field(path: str, value: Any) -> str:
    return PRESENT if volatile(path.rsplit(".", 1)[-1]) else _shown(value)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


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
