"""Reading Jimeng history records: phase, failure class, queue numbers and result URLs.

Facts from the protocol document, section 5 (status codes 5.3, fail codes 5.4, URLs 5.5, queue 5.6).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from app.jimeng.numbers import upstream_int

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"

# Record status codes (5.3). 10 is disputed (iptag: success, L1: processing): it counts as
# success only when a result is present.
STATUS_SUCCEEDED = frozenset({50})
STATUS_MAYBE_SUCCEEDED = frozenset({10})
STATUS_FAILED = frozenset({30})
QUEUE_STATUS_QUEUED = 1      # appendix A: 1 = queued, 3 = done; 2 seen right after submit

QUEUE_STATUS_DONE = 3

# Why a status-30 record failed, by codes only: Jimeng's messages vary between clients and regions
# and are not a safe key (update, addendum 2026-12). One table: (field, value) -> (our error_code, a
# reason a person understands). `task.status` sub-codes come first (they also say whether credits
# were charged), then `fail_code` (protocol 5.4 and appendix A); see `failure_key`.
FAILURE_CLASSES: dict[tuple[str, str], tuple[str, str]] = {
    # The addendum's sub-codes ([JF]): prompt refused at submit, output refused by review with no
    # credits charged, cancelled by the user (also queue_status 3, and no fail_code).
    ("task.status", "10"): ("prompt_rejected", "Jimeng refused the prompt when the task was submitted"),
    ("task.status", "40"): ("output_rejected", "Jimeng's review refused the result; no credits were charged"),
    ("task.status", "30"): ("cancelled", "the task was cancelled while queued; Jimeng returned the credits"),
    ("fail_code", "2038"): ("content_rejected", "Jimeng's content policy rejected the prompt or the result"),
    ("fail_code", "2047"): ("content_rejected", "Jimeng's content policy rejected the video (Seedance)"),
    ("fail_code", "2003"): ("content_rejected", "Jimeng's content check rejected an input image"),
    ("fail_code", "4001"): ("content_rejected", "Jimeng's content policy rejected the prompt or media"),
    ("fail_code", "4011"): ("content_rejected", "Jimeng refused the material because it shows a real person's face"),
    ("fail_code", "2043"): ("generation_failed", "Jimeng's video generation failed"),
    ("fail_code", "2039"): ("insufficient_credits", "the account has not enough credits for this task"),
    ("fail_code", "4013"): ("risk_control", "Jimeng's anti-abuse check stopped the task (suspected unusual activity)"),
    ("fail_code", "1001"): ("generation_failed", "Jimeng could not generate it, probably because of sensitive text or images"),
    ("fail_code", "5000"): ("insufficient_credits", "the account ran out of credits"),
    ("fail_code", "1015"): ("token_invalid", "the Jimeng session expired while the task was queued"),
    ("fail_code", "1018"): ("risk_control", "Jimeng restricted this account"),
    ("fail_code", "1019"): ("risk_control", "Jimeng's anti-abuse check stopped the task"),
    ("fail_code", "3000"): ("region_not_allowed", "this is not available in the account's region"),
}
GENERIC_FAILURE = ("generation_failed", "Jimeng could not generate the result")
TASK_STATUS_PROMPT_REFUSED, TASK_STATUS_CANCELLED, TASK_STATUS_OUTPUT_REFUSED = 10, 30, 40
CANCELLED = FAILURE_CLASSES[("task.status", str(TASK_STATUS_CANCELLED))]
# Every error_code a failed record can map to, in the table's order (docs and the OpenAPI spec read it).
FAILURE_CODES = tuple(dict.fromkeys(code for code, _ in (*FAILURE_CLASSES.values(), GENERIC_FAILURE)))


def failure_key(task_status: int, queue_status: int, fail_code: str) -> tuple[str, str]:
    """The FAILURE_CLASSES key of a failed record. A cancel is task.status 30 with queue_status 3 and
    no fail_code: an ordinary failure may show 30 / 3 too, but it names what went wrong."""
    if task_status in (TASK_STATUS_PROMPT_REFUSED, TASK_STATUS_OUTPUT_REFUSED):
        return "task.status", str(task_status)
    if task_status == TASK_STATUS_CANCELLED and queue_status == QUEUE_STATUS_DONE and not fail_code:
        return "task.status", str(task_status)
    return "fail_code", fail_code


_VIDEO_URL_PATHS = (
    ("common_attr", "transcoded_video", "origin", "video_url"),
    ("video", "transcoded_video", "origin", "video_url"),
    ("video", "video_url"),
    ("video", "play_url"),
    ("video", "download_url"),
    ("video", "origin", "video_url"),
    ("video", "transcoded_video", "video_url"),
    ("video", "url"),
    ("aigc_video_params", "video_url"),
    ("media_info", "video", "video_url"),
    ("media_info", "video_url"),
    ("video_info", "video_url"),
    ("output_video", "video_url"),
    ("result", "video_url"),
    ("video_url",),
    ("url",),
)
_MODEL_KEY = re.compile(r'"model_req_key"\s*:\s*"([^"]+)"|"model"\s*:\s*"([^"]+)"')


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# The generated item id, which get_local_item_list takes: `common_attr.id` first (update 6), then
# [WZ]'s fallbacks.
ITEM_ID_PATHS = (("common_attr", "id"), ("item_id",), ("id",), ("local_item_id",))


def item_id_of(item: dict) -> str | None:
    """The generated item id of a result item; None when the item names none."""
    for path in ITEM_ID_PATHS:
        value = _dig(item, path)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


class UnreadableRecord(ValueError):
    """A record whose fields have shapes we cannot read; the message names the field."""


def _time(raw: dict, name: str) -> float:
    value = raw.get(name)
    if value is None or value == "":
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or not 0 <= seconds < 2 ** 32:
        raise UnreadableRecord(f"{name} is not a time")
    return seconds


def created_seconds(raw: dict, fallback: int = 0) -> int:
    """A record's `created_time` in whole seconds, as task ids hold it (the generate answer's record
    and the history list's give the same), or `fallback` when it has none."""
    try:
        return int(float(raw.get("created_time"))) or fallback
    except (TypeError, ValueError, OverflowError):
        return fallback


def _check_shapes(raw: dict) -> None:
    """Fields we read must have the types Jimeng sends; anything else is refused by name."""
    for name, kind, label in (("item_list", list, "a list"), ("draft_content", str, "text"),
                              ("queue_info", dict, "an object")):
        if raw.get(name) is not None and raw.get(name) != "" and not isinstance(raw[name], kind):
            raise UnreadableRecord(f"{name} is not {label}")
    for name in ("status", "fail_code"):
        if isinstance(raw.get(name), (dict, list)):
            raise UnreadableRecord(f"{name} is not a code")


@dataclass(frozen=True)
class ImageResult:
    """One generated image: its URL and, when Jimeng says, its size."""

    url: str
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class HistoryRecord:
    record_id: str
    status: int
    phase: str                  # queued | running | succeeded | failed
    fail_code: str
    fail_message: str           # Jimeng's own human text (fail_starling_message), when it gives one
    task_status: int            # `task.status`: inside a failed record, why (FAILURE_CLASSES)
    queue_status: int           # `queue_info.queue_status` (appendix A: 1 queued, 3 done)
    created_time: float
    finish_time: float
    queue_position: int
    queue_length: int
    forecast_queue_cost: int
    forecast_generate_cost: int
    video_url: str | None
    images: tuple[ImageResult, ...]
    item_id: str | None
    model_key: str | None
    total_image_count: int
    finished_image_count: int
    video_meta: dict
    # Jimeng's suggested poll interval (`queue_info.polling_config.interval_seconds`, protocol 5.6); 0 unknown.
    poll_interval: int = 0
    # The stored draft (a JSON string), read only when asked: parsing it took a third of a batch's CPU,
    # and only the OpenAI video shape (`size`, `seconds`, `prompt`) needs what it says.
    draft_content: object = field(default=None, repr=False, compare=False)

    @cached_property
    def _asked(self) -> dict:
        return draft_facts(self.draft_content)

    @property
    def ratio(self) -> str | None:
        return self._asked["ratio"]

    @property
    def resolution(self) -> str | None:
        return self._asked["resolution"]

    @property
    def requested_ms(self) -> int:
        """What was asked for, read back from the stored draft."""
        return self._asked["requested_ms"]

    @property
    def prompt(self) -> str | None:
        return self._asked["prompt"]

    @property
    def failure(self) -> tuple[str, str]:
        """(error_code, reason) for a failed record, classified by codes; Jimeng's own message is
        appended when given."""
        key = failure_key(self.task_status, self.queue_status, self.fail_code)
        code, reason = FAILURE_CLASSES.get(key, GENERIC_FAILURE)
        return code, f"{reason}: {self.fail_message}" if self.fail_message else reason

    @property
    def image_urls(self) -> tuple[str, ...]:
        return tuple(i.url for i in self.images)


def video_url(item: dict) -> str | None:
    """The first non-empty video URL of an item, in the order of protocol 5.5 (both clients' paths)."""
    for path in _VIDEO_URL_PATHS:
        value = _dig(item, path)
        if isinstance(value, str) and value.startswith("http"):
            return value
    return None


def image_result(item: dict) -> ImageResult | None:
    """An item's image (protocol 5.5: `image.large_images[0]` first, then L1's other paths)."""
    large = _dig(item, ("image", "large_images"))
    if isinstance(large, list) and large and isinstance(large[0], dict):
        url = large[0].get("image_url")
        if isinstance(url, str) and url.startswith("http"):
            return ImageResult(url.replace("\\u0026", "&"), upstream_int(large[0].get("width"), 0),
                               upstream_int(large[0].get("height"), 0))
    for path in (("image_url",), ("image", "url"), ("image", "image_url")):
        value = _dig(item, path)
        if isinstance(value, str) and value.startswith("http"):
            return ImageResult(value, upstream_int(_dig(item, ("image", "width")), 0),
                               upstream_int(_dig(item, ("image", "height")), 0))
    return None


def _video_input(draft: object, depth: int = 0) -> dict:
    """The first object in a draft that carries `video_aspect_ratio` (the video_gen_inputs entry)."""
    if depth > 12:
        return {}
    if isinstance(draft, dict):
        if "video_aspect_ratio" in draft or "duration_ms" in draft and "prompt" in draft:
            return draft
        children = draft.values()
    elif isinstance(draft, list):
        children = draft
    else:
        return {}
    for child in children:
        found = _video_input(child, depth + 1)
        if found:
            return found
    return {}


def draft_facts(text: object) -> dict:
    """ratio, resolution, requested_ms and prompt from a record's stored draft (a JSON string)."""
    try:
        draft = json.loads(text) if isinstance(text, str) and len(text) < 1_000_000 else None
    except ValueError:
        draft = None
    found = _video_input(draft)
    outer = found.get("video_gen_inputs") if isinstance(found.get("video_gen_inputs"), list) else None
    inner = outer[0] if outer and isinstance(outer[0], dict) else found
    ratio = found.get("video_aspect_ratio")
    resolution = inner.get("resolution") or found.get("resolution")
    prompt = inner.get("prompt")
    return {"ratio": ratio if isinstance(ratio, str) else None,
            "resolution": resolution if isinstance(resolution, str) else None,
            "requested_ms": upstream_int(inner.get("duration_ms"), 0),
            "prompt": prompt if isinstance(prompt, str) else None}


def parse_record(record_id: str, raw: dict) -> HistoryRecord:
    """A raw `get_history_by_ids` record as the few facts the service needs; UnreadableRecord when
    a field has a shape Jimeng does not send (the caller reports that record, not the whole call)."""
    _check_shapes(raw)
    items = [i for i in (raw.get("item_list") or []) if isinstance(i, dict)]
    first = items[0] if items else {}
    url = video_url(first) if first else None
    images = tuple(r for r in (image_result(i) for i in items) if r)
    status = upstream_int(raw.get("status") if raw.get("status") is not None else _dig(raw, ("task", "status")), 0)
    queue = raw.get("queue_info") if isinstance(raw.get("queue_info"), dict) else {}
    queue_position = upstream_int(queue.get("queue_idx"), 0)
    queue_status = upstream_int(queue.get("queue_status"), 0)
    task = raw.get("task") if isinstance(raw.get("task"), dict) else {}
    has_result = bool(url or images)
    if status in STATUS_FAILED:
        phase = FAILED
    elif status in STATUS_SUCCEEDED or (status in STATUS_MAYBE_SUCCEEDED and has_result):
        phase = SUCCEEDED
    elif queue_position > 0 or queue_status == QUEUE_STATUS_QUEUED:
        phase = QUEUED
    else:
        phase = RUNNING
    origin = _dig(first, ("video", "transcoded_video", "origin")) or _dig(
        first, ("common_attr", "transcoded_video", "origin")) or {}
    meta = {k: origin[k] for k in ("width", "height", "format", "size", "fps") if k in origin}
    if _dig(first, ("video", "duration_ms")):
        meta["duration_ms"] = upstream_int(first["video"]["duration_ms"], 0)
    item_id = item_id_of(first) if first else None
    match = _MODEL_KEY.search(raw.get("draft_content") or "")
    return HistoryRecord(
        record_id=str(raw.get("history_record_id") or record_id),
        status=status, phase=phase,
        fail_code=str(raw.get("fail_code") or ""),
        fail_message=str(raw.get("fail_starling_message") or "")[:300],
        task_status=upstream_int(task.get("status"), 0), queue_status=queue_status,
        created_time=_time(raw, "created_time"),
        finish_time=_time(raw, "finish_time"),
        queue_position=queue_position,
        queue_length=upstream_int(queue.get("queue_length"), 0),
        forecast_queue_cost=upstream_int(raw.get("forecast_queue_cost"), 0),
        forecast_generate_cost=upstream_int(raw.get("forecast_generate_cost"), 0),
        video_url=url, images=images, item_id=item_id,
        model_key=(match.group(1) or match.group(2)) if match else None,
        total_image_count=upstream_int(raw.get("total_image_count"), 0),
        finished_image_count=upstream_int(raw.get("finished_image_count"), 0),
        video_meta=meta,
        poll_interval=upstream_int(_dig(queue, ("polling_config", "interval_seconds")), 0),
        draft_content=raw.get("draft_content"),
    )
