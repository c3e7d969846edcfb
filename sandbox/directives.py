"""Per-task scenarios a tester writes into the prompt, e.g. `a cat [sandbox:fail=2038]`.

| directive | effect |
| --- | --- |
| `[sandbox:fail=<code>]` | after processing the record fails: status 30, `fail_code` = code |
| `[sandbox:queue=<s>]`, `[sandbox:generate=<s>]` | seconds spent queued / generating |
| `[sandbox:expire]` | `get_history_by_ids` never lists the record |
| `[sandbox:hide=<s>]` | not listed for the first s seconds (eventual consistency) |
| `[sandbox:position=<n>]`, `[sandbox:length=<n>]` | queue position at submit and queue length |
| `[sandbox:pause=<s>]` | images: after each round of 4 but the last, s seconds "done with more to come" (6.4) |
| `[sandbox:paused_status=<code>]` | the record status shown in such a pause (default 50) |
| `[sandbox:refuse=prompt]` | the prompt is refused at submit: the record is failed at once, `task.status` 10 |
| `[sandbox:refuse=output]` | after processing, review refuses the result: `task.status` 40, credits returned |
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

_DIRECTIVE = re.compile(r"\[sandbox:([a-z_]+)(?:=([^\]]*))?\]")


@dataclass(frozen=True)
class Scenario:
    fail_code: str | None = None
    queue_s: float | None = None        # None: the sandbox's default
    generate_s: float | None = None
    expire: bool = False
    hide_s: float = 0.0
    position: int | None = None
    length: int | None = None
    pause_s: float = 0.0                # images: pause after each round but the last
    paused_status: int = 50             # the status a paused record shows (open question 8)
    refuse: str | None = None           # "prompt" (at submit) or "output" (by review): addendum 2026-12


def parse_directives(texts: Iterable[str]) -> Scenario:
    """The scenario the texts ask for; ValueError names an unknown or malformed directive."""
    scenario = Scenario()
    for text in texts:
        for name, value in _DIRECTIVE.findall(text):
            scenario = _apply(scenario, name, value)
    return scenario


def _apply(scenario: Scenario, name: str, value: str) -> Scenario:
    if name == "expire" and not value:
        return replace(scenario, expire=True)
    if name == "refuse" and value in ("prompt", "output"):
        return replace(scenario, refuse=value)
    if name == "fail" and re.fullmatch(r"-?\d+", value):
        return replace(scenario, fail_code=value)
    seconds = {"queue": "queue_s", "generate": "generate_s", "hide": "hide_s", "pause": "pause_s"}
    if name in seconds and re.fullmatch(r"\d+(\.\d+)?", value):
        return replace(scenario, **{seconds[name]: float(value)})
    if name in ("position", "length", "paused_status") and value.isdigit():
        return replace(scenario, **{name: int(value)})
    raise ValueError(f"unknown or malformed sandbox directive [sandbox:{name}{'=' + value if value else ''}]")
