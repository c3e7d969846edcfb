"""Request schemas that know their fields: a field they do not know ("promt") is a 400 naming it and the
fields they do know, as OpenAI's API answers, never silently dropped (the task would be made without it).
The spec says so too (`additionalProperties: false`).

What a client library sends that means nothing here is declared with `ignored_field`: documented,
accepted, then dropped. Older spellings a schema renames itself are named in `ALIASES`. A schema
whose other fields a second schema checks names that one in `PASSES_TO`: its fields are known too.
A bracketed sub-key of an ignored field (`svg[model]`, how multipart flattens an object) is ignored too.

The names a schema accepts are worked out once per class and cached: a body of 80,000 unknown keys
costs one set lookup each, not a rebuild of the sets per key.
"""
from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from typing import ClassVar

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load

_IGNORED = "x-ignored"


def ignored_field(description: str) -> fields.Raw:
    """A field some client sends that means nothing here: documented, accepted, dropped."""
    return fields.Raw(load_only=True, metadata={"description": description, _IGNORED: True})


class Strict(Schema):
    class Meta:
        unknown = RAISE     # refused first by `refuse_unknown_fields`, naming the known ones

    ALIASES: ClassVar[Mapping[str, str]] = {}
    PASSES_TO: ClassVar[type[Strict] | None] = None

    @classmethod
    def _names(cls, *, ignored: bool) -> list[str]:
        return [f.data_key or name for name, f in cls._declared_fields.items()
                if not f.dump_only and bool(f.metadata.get(_IGNORED)) == ignored]

    @classmethod
    @functools.cache
    def known_fields(cls) -> tuple[str, ...]:
        """The fields a client may send, in declaration order (aliases and ignored ones aside)."""
        passed = cls.PASSES_TO.known_fields() if cls.PASSES_TO is not None else ()
        return tuple(dict.fromkeys([*cls._names(ignored=False), *passed]))

    @classmethod
    @functools.cache
    def _ignored(cls) -> frozenset[str]:
        return frozenset(cls._names(ignored=True))

    @classmethod
    @functools.cache
    def _accepted(cls) -> frozenset[str]:
        aliases = set(cls.ALIASES) | (set(cls.PASSES_TO.ALIASES) if cls.PASSES_TO is not None else set())
        return frozenset(cls.known_fields()) | cls._ignored() | aliases

    def _ignored_sub_key(self, name: str) -> bool:
        """`svg[model]`, `svg[reasoning][effort]`: multipart's spelling of an ignored object field."""
        return name.endswith("]") and name.partition("[")[0] in self._ignored()

    @pre_load
    def refuse_unknown_fields(self, data, **_):
        if not isinstance(data, dict):
            return data
        accepted, ignored = self._accepted(), self._ignored()
        unknown = [name for name in data if name not in accepted and not self._ignored_sub_key(name)]
        if unknown:
            raise ValidationError({unknown[0]: [unknown_field_message(unknown[0], self.known_fields(),
                                                                      also=unknown[1:])]})
        return {name: value for name, value in data.items() if name not in ignored and name in accepted}


MORE_NAMED = 3      # other unknown fields a message names before it only counts them


def unknown_field_message(name: object, known: Iterable[str], also: list = ()) -> str:
    """What an unknown field is told (the error's param names the field itself); `also`, the body's other
    unknown fields, are named up to MORE_NAMED and then only counted."""
    known = list(known)
    close = difflib.get_close_matches(str(name)[:100], known, n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]}?)" if close else ""
    listed = ", ".join(_runs(known)) if known else "none, this route takes no fields"
    others = ""
    if also:
        named = ", ".join(str(n)[:100] for n in also[:MORE_NAMED])
        more = len(also) - MORE_NAMED
        others = f"; also unknown: {named}" + (f" and {more} more" if more > 0 else "")
    return f"unknown field{hint}{others}; known fields: {listed}"


_NUMBERED = re.compile(r"^(.*_)(\d+)$")


def _runs(names: Iterable[str]) -> list[str]:
    """Numbered names in a row read as one: image_file_1 .. image_file_9 -> "image_file_1..9"."""
    runs: list[str | list] = []     # a name, or [prefix, first, last]
    for name in names:
        match = _NUMBERED.match(name)
        last = runs[-1] if runs else None
        if match and isinstance(last, list) and last[0] == match.group(1) and last[2] + 1 == int(match.group(2)):
            last[2] += 1
        elif match:
            runs.append([match.group(1), int(match.group(2)), int(match.group(2))])
        else:
            runs.append(name)
    return [r if isinstance(r, str) else f"{r[0]}{r[1]}" + (f"..{r[2]}" if r[2] > r[1] else "") for r in runs]
