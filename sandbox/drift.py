"""Drift drills: the sandbox told that Jimeng moved (`SANDBOX_DRIFT`), refusing what today's client
sends the way Jimeng refuses an outdated client, while its page sends the new values.

`SANDBOX_DRIFT` is a comma separated list of changes:

| change | then the sandbox | with today's answer |
| --- | --- | --- |
| `da_version=3.3.31` | wants `da_version` at least this on every call | ret 3018 permission denied |
| `app_version=8.5.0` | wants `Appvr` (and the `Sign` made with it) to be this | ret 3018 permission denied |
| `header=X-Name:value` | wants this header on every API call | ret 3018 permission denied |
| `query=name:value` | wants this query parameter on every API call with the default query | ret 1000 invalid parameter |
| `rename=old:new` | takes the top-level body field `old` only as `new` | ret 1000 invalid parameter |
| `retire=<model_req_key>` | no longer lists the model and refuses its generate | ret 2061 |

The page (`sandbox/page.py`) makes its own calls with the new values, so a browser on it (the
doctor's page witness, a HAR recorded by Chromium) shows what changed.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox import catalogue
from sandbox.envelope import RET_INVALID_PARAMETER, RET_PERMISSION_DENIED, Refusal

_VERSION = re.compile(r"^\d+(\.\d+)*$")
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class Drift:
    app_version: str = ""
    da_version: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    query: tuple[tuple[str, str], ...] = ()
    renames: tuple[tuple[str, str], ...] = ()
    retired: frozenset[str] = frozenset()

    @property
    def page_app_version(self) -> str:
        return self.app_version or catalogue.APP_VERSION

    @property
    def page_da_version(self) -> str:
        return self.da_version or catalogue.PAGE_DA_VERSION

    def check_call(self, headers: Mapping[str, str], args: Mapping[str, str], default_query: bool) -> None:
        """Refuse a call made with today's (now outdated) protocol."""
        for name, value in self.headers:
            if headers.get(name) != value:
                raise Refusal(RET_PERMISSION_DENIED, f"permission denied: header {name} is required")
        if default_query and self.da_version and _version(args.get("da_version", "")) < _version(self.da_version):
            raise Refusal(RET_PERMISSION_DENIED, f"permission denied: da_version {args.get('da_version')} is outdated")
        if default_query:
            missing = [name for name, value in self.query if args.get(name) != value]
            if missing:
                raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: missing query parameter(s) {missing}")

    def body_in(self, body: dict) -> dict:
        """The body with renamed fields under the names the handlers know; an old name is refused."""
        for old, new in self.renames:
            if old in body:
                raise Refusal(RET_INVALID_PARAMETER, f"invalid parameter: {old}")
            if new in body:
                body = {(old if key == new else key): value for key, value in body.items()}
        return body

    def page_config(self) -> dict:
        """What the page's own calls send (page_app.js)."""
        return {"appvr": self.page_app_version, "daVersion": self.page_da_version,
                "headers": dict(self.headers), "query": dict(self.query), "renames": dict(self.renames)}


NO_DRIFT = Drift()


def parse_drift(spec: str) -> Drift:
    """`SANDBOX_DRIFT`; ValueError names the entry that is wrong."""
    values: dict = {"headers": [], "query": [], "renames": [], "retired": set()}
    for entry in (part.strip() for part in spec.split(",") if part.strip()):
        kind, sep, value = entry.partition("=")
        kind, value = kind.strip(), value.strip()
        if not sep or not value:
            raise ValueError(f"SANDBOX_DRIFT entry {entry!r}: write kind=value")
        if kind in ("da_version", "app_version"):
            if not _VERSION.match(value):
                raise ValueError(f"SANDBOX_DRIFT {kind} must be a version like 3.3.31, got {value!r}")
            values[kind] = value
        elif kind in ("header", "query", "rename"):
            name, sep, item = value.partition(":")
            if not sep or not _NAME.match(name.strip()) or not item.strip():
                raise ValueError(f"SANDBOX_DRIFT {kind} looks like {kind}=name:value, got {value!r}")
            target = {"header": "headers", "query": "query", "rename": "renames"}[kind]
            values[target].append((name.strip(), item.strip()))
        elif kind == "retire":
            values["retired"].add(value)
        else:
            raise ValueError(f"SANDBOX_DRIFT: unknown change {kind!r} (da_version, app_version, header, query, "
                             f"rename, retire)")
    return Drift(app_version=values.get("app_version", ""), da_version=values.get("da_version", ""),
                 headers=tuple(values["headers"]), query=tuple(values["query"]), renames=tuple(values["renames"]),
                 retired=frozenset(values["retired"]))


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return ()
