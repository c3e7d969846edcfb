"""Whole numbers read from Jimeng's JSON, total: any value in, an int or the default out.

Jimeng's numbers arrive as ints, floats or strings, and a hostile or broken answer can send
`1e999` (infinity after parsing), `NaN`, `"²"` (a digit to `str.isdigit`, not to `int`) or a
nested object. Every parser of upstream JSON reads its integers here, so none of them needs its
own list of exceptions to catch, and none can turn such an answer into a 500.
"""
from __future__ import annotations

import math
import re
from typing import TypeVar

D = TypeVar("D")
_DECIMAL = re.compile(r"[+-]?[0-9]{1,30}")    # ASCII digits only; 30 digits is far beyond any id or count
MAX_TEXT = 40


def upstream_int(value: object, default: D = None) -> int | D:
    """`value` as an int when it is a finite whole number (int, whole float, or such a short ASCII
    string like "12" or "12.0"); `default` for anything else (bools, fractions, inf, NaN, other types)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL.fullmatch(text):
            return int(text)
        if not text.isascii() or len(text) > MAX_TEXT:
            return default
        try:
            value = float(text)
        except ValueError:
            return default
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return default


def upstream_count(value: object) -> int:
    """A count or an amount (credits): a whole number >= 0, else 0."""
    return max(upstream_int(value, 0), 0)
