"""History records and their life cycle: queued -> processing -> completed (50) or failed (30).

A queued CN video may be cancelled (`cancel_generate`, addendum 2026-12): status 30, `task.status`
30, `queue_status` 3, "你已取消生成，积分已返还", its credits returned. The addendum's other failure
sub-codes come from directives: a prompt refused at submit (`task.status` 10, failed from the start,
nothing charged: the sandbox's guess) and a result refused by review (`task.status` 40, its credits
returned when it fails, as Jimeng's message says).

Image records deliver in rounds of up to 4. With `[sandbox:pause=<s>]` each round but the last is
followed by a pause of s seconds in which the record is "done with more to come" (protocol 6.4 and
L1's `needs_more`, 6.5): status 50 (or `[sandbox:paused_status=<code>]`: which status a paused
record shows is open question 8), `finish_time` set, fewer items than `total_image_count`; then the
next round generates (status 20 again) and more images follow.

A record's state is computed from the clock at each query, never advanced by a timer, so tests
move time with a fake clock and nothing sleeps. The shape follows the capture in protocol 3.4 and
the finished record in shared/fixtures/jimeng-upstream/.
"""
from __future__ import annotations

import base64
import json
import math
import secrets
import threading
from dataclasses import asdict, dataclass, field

from sandbox.catalogue import IMAGES_PER_ROUND
from sandbox.checks import Caller, fingerprint
from sandbox.directives import Scenario
from sandbox.drafts import Draft

DEFAULT_POSITION, DEFAULT_LENGTH = 5, 120
STATUS_PENDING, STATUS_FAILED, STATUS_DONE = 20, 30, 50       # 5.3
QUEUE_WAITING, QUEUE_RUNNING, QUEUE_DONE = 1, 2, 3            # 5.6 / appendix A
# Failed records' `task.status` sub-codes and Jimeng's own words for them (addendum 2026-12, [JF]).
SUB_CODES = {"prompt": (10, "你输入的文字不符合平台规则，请修改后重试"),
             "output": (40, "视频未通过审核，本次不消耗积分"),
             "cancelled": (30, "你已取消生成，积分已返还")}
STORED_DRAFT_VERSION = "3.0.5"   # 2.5: the server echoes drafts with `version` rewritten


@dataclass(frozen=True)
class MediaFacts:
    """What a finished record says about the media the sandbox serves for it."""

    video_size: int
    video_md5: str
    video_seconds: float
    video_width: int
    video_height: int
    image_width: int
    image_height: int
    hd_size: int = 0               # the HD download (get_local_item_list): same frames, more bytes


@dataclass
class Record:
    seq: int
    history_id: str
    submit_id: str
    session_id: str
    region: str
    draft: Draft
    scenario: Scenario
    draft_content: str
    metrics_extra: str
    generate_id: str
    created: float                 # the reported created_time
    origin: float                  # life-cycle start; /_sandbox/advance moves it back
    queue_s: float
    generate_s: float
    item_ids: tuple[str, ...]
    charged: int = 0                       # credits the generate took
    cancelled_at: float | None = None      # set by cancel_generate
    refunded: bool = False                 # its credits went back (cancelled, or refused by review)

    @property
    def rounds(self) -> int:
        """Rounds of results: images come up to 4 at a time (protocol 6.4); a video in one."""
        return math.ceil(len(self.item_ids) / IMAGES_PER_ROUND) if self.draft.kind == "image" else 1

    @property
    def pause_s(self) -> float:
        """The pause after each round but the last (images only)."""
        return self.scenario.pause_s if self.draft.kind == "image" else 0.0

    @property
    def active_s(self) -> float:
        """From the end of the queue to the end: the generation plus the pauses between rounds."""
        return self.generate_s + self.pause_s * (self.rounds - 1)

    def _round(self, now: float) -> tuple[int, bool]:
        """While active: (rounds finished, whether it is pausing after the last of them)."""
        t = now - self.origin - self.queue_s
        length = self.generate_s / self.rounds
        cycle = length + self.pause_s
        if cycle <= 0:
            return self.rounds, False
        k = min(int(t // cycle), self.rounds - 1)
        return (k + 1, True) if t - k * cycle >= length else (k, False)

    def delivered(self, now: float) -> int:
        """Results finished so far. Images come in rounds of up to 4 spread over the generation
        (protocol 6.4: the server makes 4 at a time); the record is 50 with all of them only at the
        end (before, 50 only in a pause: done with more to come)."""
        phase = self.phase(now)
        if phase == "completed":
            return len(self.item_ids)
        if phase not in ("processing", "paused") or self.draft.kind != "image":
            return 0
        return min(self._round(now)[0] * IMAGES_PER_ROUND, len(self.item_ids))

    def phase(self, now: float) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.scenario.refuse == "prompt":
            return "failed"            # refused at submit: never queued
        elapsed = now - self.origin
        if elapsed < self.queue_s:
            return "queued"
        if elapsed < self.queue_s + self.active_s:
            return "paused" if self._round(now)[1] else "processing"
        return "failed" if self.scenario.fail_code or self.scenario.refuse else "completed"

    @property
    def sub_code(self) -> str | None:
        """Which SUB_CODES entry a failed (or cancelled) record shows; None: an ordinary failure."""
        return "cancelled" if self.cancelled_at is not None else self.scenario.refuse

    @property
    def finish_time(self) -> int:
        """When it finishes (or finished): the end of its generation (a cancel: its moment; a prompt
        refused at submit: its creation), never before its creation."""
        if self.cancelled_at is not None:
            return int(max(self.created, self.cancelled_at))
        if self.scenario.refuse == "prompt":
            return int(self.created)
        return int(max(self.created, self.origin + self.queue_s + self.active_s))

    def round_finish_time(self, now: float) -> int:
        """In a pause: when the round just done finished."""
        done, _ = self._round(now)
        length = self.generate_s / self.rounds
        return int(max(self.created, self.origin + self.queue_s + done * length + (done - 1) * self.pause_s))

    def listed(self, now: float) -> bool:
        """Whether get_history_by_ids shows it yet (the hide and expire directives)."""
        return not self.scenario.expire and now - self.origin >= self.scenario.hide_s

    def summary(self, now: float) -> dict:
        """What the admin API shows: no session id, only its fingerprint."""
        return {"history_record_id": self.history_id, "submit_id": self.submit_id,
                "session": fingerprint(self.session_id), "region": self.region, "kind": self.draft.kind,
                "mode": self.draft.mode, "model": self.draft.model_key, "phase": self.phase(now),
                "listed": self.listed(now), "created_time": self.created, "delivered": self.delivered(now),
                "results": len(self.item_ids), "charged": self.charged, "refunded": self.refunded,
                "scenario": asdict(self.scenario)}


@dataclass
class RecordBook:
    """Every record, by history id. Thread-safe."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _records: dict[str, Record] = field(default_factory=dict)
    _by_submit: dict[tuple[str, str], Record] = field(default_factory=dict)
    _seq: int = 0

    def create(self, caller: Caller, body: dict, draft: Draft, scenario: Scenario, now: float, generate_id: str,
               queue_s: float, generate_s: float, charged: int = 0) -> Record:
        """A new task. A repeated submit_id makes a second task (whether Jimeng de-duplicates is
        unknown, protocol 10.7); lookups by submit_id then find the newest."""
        with self._lock:
            self._seq += 1
            history_id = _unique_digits(13, self._records)
            count = draft.count if draft.kind == "image" else 1
            record = Record(
                seq=self._seq, history_id=history_id, submit_id=body["submit_id"], session_id=caller.session_id,
                region=caller.region, draft=draft, scenario=scenario, draft_content=body["draft_content"],
                metrics_extra=body["metrics_extra"], generate_id=generate_id, created=round(now, 3), origin=now,
                queue_s=scenario.queue_s if scenario.queue_s is not None else queue_s,
                generate_s=scenario.generate_s if scenario.generate_s is not None else generate_s,
                item_ids=tuple("7" + str(secrets.randbelow(10 ** 18)).zfill(18) for _ in range(count)),
                charged=charged)
            self._records[history_id] = record
            self._by_submit[(caller.session_id, record.submit_id)] = record
            return record

    def cancel(self, session_id: str, history_id: str, now: float) -> Record:
        """Cancel the caller's queued video: one step under the lock, so a record that starts
        meanwhile is refused. ValueError says why it cannot be cancelled; LookupError: no such
        record for this caller (unknown, not listed yet, or another account's)."""
        with self._lock:
            record = self._records.get(history_id)
            if record is None or record.session_id != session_id or not record.listed(now):
                raise LookupError(history_id)
            phase = record.phase(now)
            if record.draft.kind != "video":
                raise ValueError("only video tasks can be cancelled")
            if phase != "queued":
                raise ValueError(f"the task is {phase}, not queued")
            record.cancelled_at = now
            record.refunded = True
            return record

    def refunds_due(self, now: float) -> list[Record]:
        """Records refused by review since the last call (their credits go back): marked refunded."""
        with self._lock:
            due = [r for r in self._records.values() if r.scenario.refuse == "output" and not r.refunded
                   and r.phase(now) == "failed"]
            for record in due:
                record.refunded = True
        return due

    def running(self, session_id: str, now: float) -> int:
        """How many of the session's tasks are queued or generating (Jimeng's parallel count)."""
        with self._lock:
            return sum(1 for r in self._records.values()
                       if r.session_id == session_id and r.phase(now) in ("queued", "processing", "paused"))

    def find(self, session_id: str, history_ids: list[str], submit_ids: list[str], now: float) -> dict[str, Record]:
        """The caller's listed records, keyed by the id asked with; others' records are absent."""
        with self._lock:
            found = {hid: self._records.get(hid) for hid in history_ids}
            found.update({sid: self._by_submit.get((session_id, sid)) for sid in submit_ids})
        return {key: rec for key, rec in found.items()
                if rec is not None and rec.session_id == session_id and rec.listed(now)}

    def page(self, session_id: str, kinds: set[str], count: int, offset: int, now: float) -> tuple[list[Record], bool]:
        """The caller's listed records of these kinds, newest first, older than the `offset` cursor
        (a record's seq; 0 = from the newest); and whether more follow."""
        with self._lock:
            mine = [r for r in self._records.values() if r.session_id == session_id and r.draft.kind in kinds
                    and r.listed(now) and (offset <= 0 or r.seq < offset)]
        mine.sort(key=lambda r: r.seq, reverse=True)
        return mine[:count], len(mine) > count

    def find_item(self, session_id: str, item_id: str) -> Record | None:
        with self._lock:
            return next((r for r in self._records.values()
                         if r.session_id == session_id and item_id in r.item_ids), None)

    def get(self, history_id: str) -> Record | None:
        with self._lock:
            return self._records.get(history_id)

    def all(self) -> list[Record]:
        with self._lock:
            return sorted(self._records.values(), key=lambda r: r.seq)

    def advance(self, seconds: float) -> None:
        """Age every record, so a live sandbox can skip a queue without anyone sleeping."""
        with self._lock:
            for record in self._records.values():
                record.origin -= seconds

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._by_submit.clear()


def _unique_digits(n: int, taken: dict) -> str:
    while True:
        value = str(10 ** (n - 1) + secrets.randbelow(9 * 10 ** (n - 1)))
        if value not in taken:
            return value


# -- rendering -------------------------------------------------------------------------------
def render(record: Record, now: float, base_url: str, media: MediaFacts) -> dict:
    """The record as get_history_by_ids and the generate answer show it at time `now`."""
    phase = record.phase(now)
    done = phase in ("completed", "failed", "cancelled")
    finish_time = record.finish_time if done else record.round_finish_time(now) if phase == "paused" else 0
    status = {"completed": STATUS_DONE, "failed": STATUS_FAILED, "cancelled": STATUS_FAILED,
              "paused": record.scenario.paused_status}.get(phase, STATUS_PENDING)
    fail_code = (record.scenario.fail_code or "") if phase == "failed" and not record.sub_code else ""
    task_status, message = status, f"sandbox: generation failed with fail_code {fail_code}" if fail_code else ""
    if phase in ("failed", "cancelled") and record.sub_code:
        task_status, message = SUB_CODES[record.sub_code]
    images = record.draft.kind == "image"
    items = _items(record, base_url, media, record.delivered(now))
    return {
        "history_record_id": record.history_id,
        "submit_id": record.submit_id,
        "capflow_id": record.submit_id,
        "generate_type": 1 if images else 10,
        "first_generate_type": 1 if images else 10,
        "created_time": record.created,
        "finish_time": finish_time,
        "status": status,
        "fail_code": fail_code,
        "fail_starling_key": f"sandbox_fail_{fail_code or record.sub_code}" if message else "",
        "fail_starling_message": message,
        "item_list": items,
        "origin_item_list": [],
        "task": {"task_id": record.history_id, "history_id": record.history_id, "submit_id": record.submit_id,
                 "status": task_status, "finish_time": finish_time, "aid": 0, "priority": 0,
                 "resp_ret": {"ret": "0"}},
        "queue_info": _queue_info(record, phase, now),
        **_forecast(record, phase, now),
        "total_image_count": len(record.item_ids) if images else 0,
        "finished_image_count": len(items) if images else 0,
        "confirm_status": 0,
        "confirm_token": "",
        "pre_gen_item_ids": list(record.item_ids),
        "draft_content": _stored_draft(record.draft_content),
        "metrics_extra": record.metrics_extra,
        "generate_id": record.generate_id,
        "model_info": {"model_req_key": record.draft.model_key, "model_name": record.draft.model_key},
        "mode": "workbench",
        "uid": str(int(fingerprint(record.session_id), 16))[:16],
        "history_group_key": ("generate_image#" if images else "generate_video#") + "_".join(record.draft.input_uris),
        "resources": [{"key": uri, "type": "image", "name": "", "platform": 1} for uri in record.draft.input_uris],
        "min_feats": None,
        "image_type": 0,
        "agent_history_id": None,
        "origin_history_record_id": None,
        "aigc_flow": {"version": STORED_DRAFT_VERSION},
        "asset_option": {"has_favorited": False},
    }


def _queue_info(record: Record, phase: str, now: float) -> dict:
    info = {"queue_idx": 0, "priority": 5, "queue_status": QUEUE_DONE, "queue_length": 0,
            "polling_config": {"interval_seconds": 30, "timeout_seconds": 86400},
            "priority_queue_display_threshold": {"vip_queuing_time_threshold": 300, "waiting_time_threshold": 60}}
    if phase == "queued":
        position = record.scenario.position or DEFAULT_POSITION
        left = 1 - (now - record.origin) / record.queue_s
        info.update(queue_idx=max(1, math.ceil(position * left)), queue_status=QUEUE_WAITING,
                    queue_length=max(record.scenario.length or DEFAULT_LENGTH, position))
    elif phase == "processing":
        info.update(queue_status=QUEUE_RUNNING)
    return info      # paused: a round is done, as a finished record shows it


def _forecast(record: Record, phase: str, now: float) -> dict:
    """Forecast costs in seconds (appendix A): queue time left, and generation time (left)."""
    elapsed = now - record.origin
    queue_left = max(0.0, record.queue_s - elapsed) if phase == "queued" else 0.0
    generate = record.active_s
    if phase in ("processing", "paused"):
        generate = record.queue_s + record.active_s - elapsed
    return {"forecast_queue_cost": math.ceil(queue_left), "forecast_generate_cost": math.ceil(generate)}


def _items(record: Record, base_url: str, media: MediaFacts, delivered: int) -> list[dict]:
    if record.draft.kind == "image":
        return [_image_item(record, i, base_url, media) for i in range(delivered)]
    return [video_item(record, base_url, media)] if delivered else []


def video_item(record: Record, base_url: str, media: MediaFacts) -> dict:
    """A finished video item. Every record has the URL at `video.transcoded_video.origin`
    (CN fixture); every other one also at `common_attr.transcoded_video.origin` (iptag `535b0e7`)."""
    item_id = record.item_ids[0]
    url = f"{base_url}media/{record.history_id}.mp4?mime_type=video_mp4"
    cover = f"{base_url}assets/sample.png"
    origin = {"vid": "", "fps": 24, "width": media.video_width, "height": media.video_height, "duration": 0,
              "video_url": url, "cover_url": "", "format": "mp4", "definition": "origin", "logo_type": "",
              "encryption_key": "", "md5": media.video_md5, "size": media.video_size, "video_id": ""}
    common = {"id": item_id, "local_item_id": item_id, "effect_id": item_id, "effect_type": 53,
              "cover_url": cover, "create_time": record.finish_time, "status": 144, "title": "", "description": ""}
    if record.seq % 2 == 0:
        common["transcoded_video"] = {"origin": dict(origin)}
    return {"common_attr": common,
            "video": {"video_id": "v0" + record.history_id, "duration": round(media.video_seconds),
                      "duration_ms": round(media.video_seconds * 1000), "transcoded_video": {"origin": origin},
                      "cover_url": cover, "transcode_status": 1, "has_audio": False}}


def download_item(record: Record, base_url: str, media: MediaFacts, now: float) -> dict:
    """A finished video item as `get_local_item_list` answers it for download (update 6, [SB]):
    the HD URL sits base64-encoded in `video.video_model` (a JSON string) under
    `video_list.*.main_url`; the other paths still hold the preview, so a client reading them
    first hands out the preview. `url_expire` is an hour after the answer, as in the CN sample (5.5)."""
    item = video_item(record, base_url, media)
    hd_url = f"{base_url}media/hd/{record.history_id}.mp4?mime_type=video_mp4"
    seconds = max(media.video_seconds, 0.001)
    entry = {"definition": "origin", "quality": "normal", "vtype": "mp4", "vwidth": media.video_width,
             "vheight": media.video_height, "bitrate": int(media.hd_size * 8 / seconds),
             "real_bitrate": int(media.hd_size * 8 / seconds), "fps": 24, "codec_type": "h264",
             "size": media.hd_size, "main_url": base64.b64encode(hd_url.encode()).decode(),
             "backup_url_1": base64.b64encode(hd_url.encode()).decode(), "url_expire": int(now) + 3600}
    model = {"status": 10, "message": "success", "enable_ssl": True, "video_id": item["video"]["video_id"],
             "video_duration": round(seconds, 3), "media_type": "video", "url_expire": entry["url_expire"],
             "video_list": {"video_1": entry}}
    item["video"]["video_model"] = json.dumps(model, separators=(",", ":"))
    return item


def _image_item(record: Record, index: int, base_url: str, media: MediaFacts) -> dict:
    item_id = record.item_ids[index]
    url = f"{base_url}media/{record.history_id}/{index}.png"
    image = {"image_uri": f"tos-sandbox-i/{record.history_id}-{index}", "image_url": url,
             "width": media.image_width, "height": media.image_height, "format": "png"}
    common = {"id": item_id, "local_item_id": item_id, "cover_url": url, "create_time": record.finish_time,
              "status": 102}
    return {"common_attr": common,
            "image": {"format": "png", "large_images": [image]}}


def _stored_draft(draft_content: str) -> str:
    draft = json.loads(draft_content)
    draft["version"] = STORED_DRAFT_VERSION
    return json.dumps(draft, separators=(",", ":"), ensure_ascii=False)
