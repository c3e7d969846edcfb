"""What of a browser's capture is secret, and finding it fast in any text.

A capture carries its operator's cookies in several places (Cookie headers, Set-Cookie headers, the
HAR's `cookies` lists that Chrome's sanitized export keeps) and in several spellings (quoted,
URL-encoded, a sid_guard's session id before its `|`). Every value is a secret, and so is anything
shaped like a session id (32 hex digits or more). They are found in every form the log masking knows
(app/logs.py: URL, hex and base64 encodings, any letter case) with one Aho-Corasick pass over a text,
so that a capture's hundreds of forms cost one linear scan, where one regular expression of them
all would cost their number times the text's length.
"""
from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Any

import ahocorasick

from app.serving.logs import MIN_SECRET_LENGTH, secret_forms

REDACTED = "[redacted]"
# Jimeng's session ids (and the cookies cut from them) are 32 hex digits.
SESSION_SHAPE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32,}(?![0-9a-fA-F])")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def looks_like_a_session(text: str) -> bool:
    """Does a text hold something shaped like a session id?"""
    return bool(SESSION_SHAPE.search(text))


class CaptureSecrets:
    """A capture's secrets, to find (a value to compare by presence only) and to mask (a report's text)."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = frozenset(v for v in values if len(v) >= MIN_SECRET_LENGTH)
        forms = {form.translate(_ASCII_LOWER) for value in self.values for form in secret_forms(value)}
        self._automaton: Any = None
        if forms:
            self._automaton = ahocorasick.Automaton()
            for form in forms:
                self._automaton.add_word(form, len(form))
            self._automaton.make_automaton()

    def __or__(self, values: Iterable[str]) -> CaptureSecrets:
        more = {v for v in values if len(v) >= MIN_SECRET_LENGTH} - self.values
        return CaptureSecrets(self.values | more) if more else self

    def held_in(self, text: str) -> bool:
        """Does the text hold one of the secrets, in any form, or a session id's shape?"""
        if looks_like_a_session(text):
            return True
        return self._automaton is not None and next(self._automaton.iter(text.translate(_ASCII_LOWER)), None) is not None

    def masked(self, text: str) -> str:
        """The text with every secret (in any form) and every session id's shape replaced by [redacted]."""
        if self._automaton is not None:
            spans = sorted((end + 1 - size, end + 1) for end, size in self._automaton.iter(text.translate(_ASCII_LOWER)))
            if spans:
                parts, at = [], 0
                for start, end in spans:
                    if end <= at:
                        continue
                    if start > at:
                        parts.append(text[at:start])
                    if start >= at:
                        parts.append(REDACTED)
                    at = end
                text = "".join(parts) + text[at:]
        return SESSION_SHAPE.sub(REDACTED, text)


def cookie_values(header: str) -> Iterator[str]:
    """The values of a Cookie header's pairs (or one Set-Cookie's), in each form they may show up in:
    as written, unquoted, URL-decoded, and a sid_guard-style value's session id before its first `|`.
    One at a time, so that a reader bounding their number stops at the bound."""
    for pair in header.split(";"):
        _, sep, value = pair.strip().partition("=")
        if sep:
            yield from _spellings(value)


def set_cookie_values(header: str) -> Iterator[str]:
    """The cookie values a Set-Cookie header sets (HAR writers join several with newlines)."""
    for line in header.splitlines():
        yield from cookie_values(line.split(";", 1)[0])


def listed_cookie_values(cookies: Any) -> Iterator[str]:
    """The values of a HAR `cookies` list ([{"name", "value"}, ...])."""
    for cookie in cookies if isinstance(cookies, list) else ():
        if isinstance(cookie, dict) and isinstance(cookie.get("value"), str):
            yield from _spellings(cookie["value"])


def _spellings(value: str) -> set[str]:
    value = value.strip()
    unquoted = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    decoded = urllib.parse.unquote(unquoted)
    return {form for form in (value, unquoted, decoded, decoded.split("|")[0].strip()) if form}
