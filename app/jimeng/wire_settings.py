"""Protocol settings an operator sets to follow Jimeng's next change without a release.

One mechanism, read once at worker start from the environment and validated as a whole (a
malformed one stops the start with a message naming it, `check()`):
- the protocol constants, `JIMENG_<NAME>` (app/jimeng/constants.py): each must look like what it is
  (a version `3.3.28`, digits, a header-safe text);
- wire edits per call, for what no constant covers. A call is named as in `app/jimeng/calls.py`
  (`generate`, `history`, `account`...) or `*` for every call; entries are separated by `|`:
  - `JIMENG_EXTRA_HEADERS`: `CALL:Name=value` adds or replaces a header, `CALL:-Name` drops one;
  - `JIMENG_EXTRA_QUERY`: `CALL:name=value` adds or replaces a query parameter, `CALL:-name` drops one;
  - `JIMENG_BODY_FIELDS`: `CALL:a.b=<JSON>` sets a body field, `CALL:-a.b` drops one, `CALL:a.b>c` renames
    `b` to `c` in place. A dotted path goes into JSON-string fields too (`draft_content.version`), and a
    number picks a list item (`draft_content.component_list.0.min_version`);
- per video model (our model name, as in `/v1/models`): `JIMENG_MODEL_KEYS` (`name=model_req_key`) and
  `JIMENG_BENEFIT_TYPES` (`name=benefit_type`, `{res}` standing for the resolution).

The capture diff (app/jimeng/capture_diff.py) names these settings, ready to paste.
"""
from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.jimeng import constants
from app.jimeng.calls import CALL_NAMES, CALL_PATHS

EXTRA_HEADERS, EXTRA_QUERY, BODY_FIELDS = "JIMENG_EXTRA_HEADERS", "JIMENG_EXTRA_QUERY", "JIMENG_BODY_FIELDS"
MODEL_KEYS, BENEFIT_TYPES = "JIMENG_MODEL_KEYS", "JIMENG_BENEFIT_TYPES"
EVERY_CALL = "*"
SEPARATOR = "|"

# The constants that are version numbers or small integers; the others are header text.
VERSION_CONSTANTS = frozenset({"APP_VERSION", "APP_SDK_VERSION", "DA_VERSION", "WEB_VERSION", "DRAFT_VERSION",
                               "VIDEO_MIN_VERSION", "OMNI_MIN_VERSION", "IMAGE_DRAFT_VERSION", "IMAGE_MIN_VERSION",
                               "BLEND_MIN_VERSION"})
INTEGER_CONSTANTS = frozenset({"PLATFORM_CODE", "SIGN_VERSION"})
_VERSION = re.compile(r"^\d+(\.\d+)*$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*$")
_QUERY_NAME = re.compile(r"^[^\s=&#|]+$")
_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class Edit:
    """One wire edit: set `name` to `value`, drop it (`value` None), or rename it (`rename_to`)."""

    kind: str                   # "header", "query" or "body"
    call: str                   # a call name or "*"
    name: str                   # header name, query name, or dotted body path
    value: Any = None           # header/query: text; body: a JSON value
    drop: bool = False
    rename_to: str = ""

    def entry(self) -> str:
        """The entry as it is written in its setting."""
        if self.drop:
            return f"{self.call}:-{self.name}"
        if self.rename_to:
            return f"{self.call}:{self.name}>{self.rename_to}"
        value = json.dumps(self.value, separators=(",", ":"), ensure_ascii=False) if self.kind == "body" \
            else self.value
        return f"{self.call}:{self.name}={value}"


@dataclass(frozen=True)
class WireSettings:
    """Every wire edit in force, by call; and what was wrong with the environment (empty: all good)."""

    headers: dict[str, tuple[Edit, ...]] = field(default_factory=dict)
    query: dict[str, tuple[Edit, ...]] = field(default_factory=dict)
    body: dict[str, tuple[Edit, ...]] = field(default_factory=dict)
    model_keys: dict[str, str] = field(default_factory=dict)
    benefit_types: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)     # the settings as written (for a report to extend)

    # -- applying ----------------------------------------------------------------------------------
    def apply_query(self, path: str, query: dict[str, str]) -> dict[str, str]:
        edits = self._for(self.query, path)
        for edit in edits:
            if edit.drop:
                query.pop(edit.name, None)
            else:
                query[edit.name] = edit.value
        return query

    def apply_headers(self, path: str, headers: dict[str, str]) -> dict[str, str]:
        edits = self._for(self.headers, path)
        if not edits:
            return headers
        for edit in edits:
            lowered = edit.name.lower()
            found = next((name for name in headers if name.lower() == lowered), None)
            if edit.drop:
                headers = {name: value for name, value in headers.items() if name.lower() != lowered}
            elif found is None:
                headers = {**headers, edit.name: edit.value}
            else:   # in place: the header order stays
                headers = {(edit.name if name == found else name): (edit.value if name == found else value)
                           for name, value in headers.items() if name == found or name.lower() != lowered}
        return headers

    def apply_body(self, path: str, body: dict | None) -> dict | None:
        """`body` with this call's edits, as a copy (the caller's dict is kept for a resend)."""
        edits = self._for(self.body, path)
        if not edits or body is None:
            return body
        body = copy.deepcopy(body)
        for edit in edits:
            edit_body(body, edit)
        return body

    @staticmethod
    def _for(table: dict[str, tuple[Edit, ...]], path: str) -> tuple[Edit, ...]:
        if not table:
            return ()
        return table.get(EVERY_CALL, ()) + table.get(CALL_NAMES.get(path, ""), ())


def edit_body(body: Any, edit: Edit) -> bool:
    """Apply one body edit in place; False when its path is not there (nothing changed)."""
    return _edit(body, edit.name.split("."), edit)


def _edit(node: Any, segments: list[str], edit: Edit) -> bool:
    head, rest = segments[0], segments[1:]
    if isinstance(node, list):
        if not head.isdigit() or int(head) >= len(node):
            return False
        key: Any = int(head)
    elif isinstance(node, dict):
        key = head
    else:
        return False
    if rest:
        if isinstance(node, dict) and key not in node:
            if edit.drop or edit.rename_to:
                return False
            node[key] = {}
        child = node[key]
        if isinstance(child, str):       # a JSON string field (draft_content, metrics_extra): edit inside
            try:
                inner = json.loads(child)
            except ValueError:
                return False
            if not _edit(inner, rest, edit):
                return False
            node[key] = json.dumps(inner, separators=(",", ":"), ensure_ascii=False)
            return True
        return _edit(child, rest, edit)
    if edit.drop:
        if isinstance(node, dict):
            return node.pop(key, _MISSING) is not _MISSING
        del node[key]
        return True
    if edit.rename_to:
        if not isinstance(node, dict) or key not in node:
            return False
        renamed = {(edit.rename_to if k == key else k): v for k, v in node.items()}
        node.clear()
        node.update(renamed)
        return True
    node[key] = copy.deepcopy(edit.value)
    return True


_MISSING = object()


# -- parsing ---------------------------------------------------------------------------------------

def parse(environ: Mapping[str, str]) -> WireSettings:
    """The settings in `environ`; every problem is collected (a start shows them all at once)."""
    problems: list[str] = _constant_problems(environ)
    tables = {}
    for var, kind in ((EXTRA_HEADERS, "header"), (EXTRA_QUERY, "query"), (BODY_FIELDS, "body")):
        tables[kind] = _edits(environ.get(var, ""), var, kind, problems)
    keys = _pairs(environ.get(MODEL_KEYS, ""), MODEL_KEYS, problems, _KEY)
    benefits = _pairs(environ.get(BENEFIT_TYPES, ""), BENEFIT_TYPES, problems, re.compile(r"^[A-Za-z0-9_.{}\-]+$"))
    raw = {var: environ[var].strip() for var in (EXTRA_HEADERS, EXTRA_QUERY, BODY_FIELDS, MODEL_KEYS, BENEFIT_TYPES)
           if environ.get(var, "").strip()}
    return WireSettings(headers=tables["header"], query=tables["query"], body=tables["body"], model_keys=keys,
                        benefit_types=benefits, problems=tuple(problems), raw=raw)


def _constant_problems(environ: Mapping[str, str]) -> list[str]:
    problems = []
    for name in constants.DEFAULTS:
        var = constants.ENV_PREFIX + name
        value = environ.get(var, "").strip()
        if not value:
            continue
        if name in VERSION_CONSTANTS and not _VERSION.match(value):
            problems.append(f"{var} must be a version like {constants.DEFAULTS[name][0]}, got {value!r}")
        elif name in INTEGER_CONSTANTS and not value.isdigit():
            problems.append(f"{var} must be a whole number like {constants.DEFAULTS[name][0]}, got {value!r}")
        elif not _HEADER_VALUE.match(value):
            problems.append(f"{var} must be printable ASCII (it is sent as a header)")
    return problems


def _entries(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(SEPARATOR) if part.strip()]


def _edits(raw: str, var: str, kind: str, problems: list[str]) -> dict[str, tuple[Edit, ...]]:
    table: dict[str, list[Edit]] = {}
    for entry in _entries(raw):
        try:
            edit = _edit_entry(entry, kind)
        except ValueError as exc:
            problems.append(f"{var}: {entry!r}: {exc}")
            continue
        table.setdefault(edit.call, []).append(edit)
    return {call: tuple(edits) for call, edits in table.items()}


def _edit_entry(entry: str, kind: str) -> Edit:
    call, sep, rest = entry.partition(":")
    call = call.strip()
    if not sep or not rest.strip():
        raise ValueError("write CALL:NAME=VALUE, CALL:-NAME" + (" or CALL:PATH>NEWNAME" if kind == "body" else ""))
    if call != EVERY_CALL and call not in CALL_PATHS:
        raise ValueError(f"unknown call {call!r}; calls: {EVERY_CALL}, {', '.join(CALL_PATHS)}")
    rest = rest.strip()
    if rest.startswith("-"):
        name = rest[1:].strip()
        _check_name(name, kind)
        return Edit(kind, call, name, drop=True)
    if kind == "body" and ">" in rest.split("=", 1)[0]:
        name, _, new = rest.partition(">")
        name, new = name.strip(), new.strip()
        _check_name(name, kind)
        if not _KEY.match(new):
            raise ValueError(f"the new name {new!r} must be one key (letters, digits, _ or -)")
        return Edit(kind, call, name, rename_to=new)
    name, sep, value = rest.partition("=")
    name = name.strip()
    if not sep:
        raise ValueError("a value is missing: write NAME=VALUE (or -NAME to drop it)")
    _check_name(name, kind)
    if kind == "header":
        value = value.strip()
        if not _HEADER_VALUE.match(value):
            raise ValueError("a header value must be printable ASCII")
        return Edit(kind, call, name, value)
    if kind == "query":
        if any(ord(ch) < 32 for ch in value):
            raise ValueError("a query value must not hold control characters")
        return Edit(kind, call, name, value.strip())
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError(f"the value {value.strip()!r} is not JSON (write text as \"text\", numbers as 1)") from None
    return Edit(kind, call, name, parsed)


def _check_name(name: str, kind: str) -> None:
    if kind == "header" and not _HEADER_NAME.match(name):
        raise ValueError(f"{name!r} is not a header name")
    if kind == "query" and not _QUERY_NAME.match(name):
        raise ValueError(f"{name!r} is not a query parameter name")
    if kind == "body" and not all(_KEY.match(part) for part in name.split(".")):
        raise ValueError(f"{name!r} is not a dotted body path (keys and list positions, e.g. extend.root_model)")


def _pairs(raw: str, var: str, problems: list[str], value_pattern: re.Pattern) -> dict[str, str]:
    pairs = {}
    for entry in _entries(raw):
        name, sep, value = entry.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _MODEL_NAME.match(name) or not value_pattern.match(value):
            problems.append(f"{var}: {entry!r}: write MODEL=VALUE, e.g. jimeng-video-3.5-pro=...")
            continue
        pairs[name] = value
    return pairs


def check() -> list[str]:
    """Everything wrong with the settings in force; `create_app` refuses to start when not empty."""
    from app.jimeng.models import VIDEO_MODELS   # models applies the model settings at import

    problems = list(SETTINGS.problems)
    for var, table in ((MODEL_KEYS, SETTINGS.model_keys), (BENEFIT_TYPES, SETTINGS.benefit_types)):
        for name in table:
            if name not in VIDEO_MODELS:
                problems.append(f"{var}: no video model {name!r}; models: {', '.join(VIDEO_MODELS)}")
    return problems


SETTINGS = parse(os.environ)
