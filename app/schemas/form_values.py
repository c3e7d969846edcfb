"""Values that arrive as JSON or as multipart text alike: whole numbers and JSON arrays (of bounded length).

Multipart carries only text, so a number comes as "5" and a list as '["a", "b"]'. Both forms are
read here, once, for every schema; anything of another type is a 400 naming the field, never
truncated (2.9 is not 2) and never replaced by a default.
"""
from __future__ import annotations

import json
import numbers

from marshmallow import ValidationError, fields, validate

MAX_DIGITS = 18     # a whole number longer than this is no count or length anyone means


class WholeNumber(fields.Integer):
    """An integer, or text of one (multipart); a fraction, a boolean or anything else is refused."""

    default_error_messages = {"invalid": "must be a whole number"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float):
            if not value.is_integer():
                raise self.make_error("invalid")
        elif isinstance(value, str):
            text = value.strip()
            if not text.lstrip("+-").isdigit() or len(text) > MAX_DIGITS + 1:
                raise self.make_error("invalid")
        elif not isinstance(value, numbers.Integral):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def json_array(value, name: str):
    """A list field's value: JSON text of an array (multipart) parsed, anything else as it is.

    Text nested past the parser's depth (100,000 brackets) is refused like any broken array."""
    if not isinstance(value, str) or not value.strip().startswith("["):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise ValidationError("must be a JSON array", name) from None


class BoundedList(fields.List):
    """A list whose length is checked before any item is loaded: a body of 30,000 frames is a 400 naming
    the limit at once, not 30,000 nested loads first. The spec shows the bound as `maxItems`."""

    def __init__(self, inner, *, max_items: int, **kwargs) -> None:
        self.max_items = max_items
        kwargs["validate"] = [validate.Length(max=max_items), *_as_list(kwargs.get("validate"))]
        super().__init__(inner, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (list, tuple)) and len(value) > self.max_items:
            raise ValidationError(f"at most {self.max_items} items, got {len(value)}")
        return super()._deserialize(value, attr, data, **kwargs)


def _as_list(validators) -> list:
    if validators is None:
        return []
    return list(validators) if isinstance(validators, (list, tuple)) else [validators]
