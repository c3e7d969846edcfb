"""Path segments that name a task, a video or a model are never one of our own words.

`/v1/videos/<video_id>` would otherwise take `generations` for an id: `DELETE /v1/videos/generations`
reached the delete view and `GET /v1/images/tasks/batch` the task view, where the answer should be
405 with `Allow` (the path exists, the method does not). With these words refused by the converter
itself, Werkzeug finds no route for the method and answers 405 naming the methods the path has.
Installed as the app's default converter, so every route, present and future, gets the rule.
"""
from __future__ import annotations

import re

from werkzeug.routing import Map, UnicodeConverter

# Every static segment of our routes under /v1 and /token (a test holds the list to the URL map),
# and the words of routes on their way (cancel, the doctor).
RESERVED = frozenset({
    "v1", "videos", "images", "models", "accounts", "token", "doctor",
    "generations", "compositions", "edits", "tasks", "batch", "content", "cancel", "capture",
    "check", "points", "receive",
})


class IdConverter(UnicodeConverter):
    """One path segment, as Flask's default converter, but never a reserved word."""

    def __init__(self, map: Map, *args, **kwargs) -> None:
        super().__init__(map, *args, **kwargs)
        words = "|".join(re.escape(w) for w in sorted(RESERVED))
        self.regex = rf"(?!(?:{words})\Z){self.regex}"


def id_parameter_schema(converter: IdConverter) -> dict:
    """How /openapi.json states the rule, so clients and fuzzers know which values are no id."""
    return {"type": "string", "minLength": 1, "not": {"enum": sorted(RESERVED)}}
