"""What every submit shares, videos and images alike: what a kind supplies to the one orchestration
(`SubmitFlow`, app/services/submitter.py), the media intake, the upload of an image with its content
check, and the one generate call that turns an accepted draft into a task id.

The generate call is made once and never repeated (it costs credits). When its answer is lost,
the error still carries a task id that finds the task by its submit id.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from app import errors
from app.media import intake as media
from app.jimeng import uploads
from app.jimeng.assets import Media, UploadedImage
from app.jimeng.history import created_seconds
from app.jimeng.client import JimengClient
from app.jimeng.regions import Token
from app.jimeng.models import VideoModel
from app.services.catalogue import AccountModels, LiveCatalogue
from app.services.daily_credits import generate_claiming_daily
from app.services.tasks import fingerprint_key
from app.services.workspaces import Workspaces
from app.state.shared import SharedState
from app.task_ids import TaskId


@dataclass
class MediaInput:
    """One piece of user media as the view received it: a URL/data URI or an uploaded file."""

    field: str
    url: str | None = None
    stream: BinaryIO | None = None
    filename: str = ""
    declared_type: str | None = None

    @property
    def expected_kind(self) -> str:
        """Omni materials are typed by their field name (video_file[_N] or image_file[_N])."""
        return "video" if self.field.startswith("video_file") else "image"


@dataclass(frozen=True)
class WebhookRequest:
    """What a submit asked for (schema-loaded `webhook_url`, `webhook_events`)."""

    url: str | None = None
    events: tuple[str, ...] | None = None

    @classmethod
    def from_fields(cls, fields: dict) -> WebhookRequest | None:
        url, events = fields.get("webhook_url"), fields.get("webhook_events")
        if url is None and events is None:
            return None
        return cls(url=url, events=tuple(dict.fromkeys(events)) if events is not None else None)


@dataclass(frozen=True)
class SubmitSettings:
    secret_key: str
    max_upload_bytes: int
    fetch_timeout: float
    allow_loopback_media: bool = False
    max_prompt_chars: int = 2000
    clock: Callable[[], float] = time.time
    catalogue: LiveCatalogue | None = None     # None: the static table only
    workspaces: Workspaces | None = None       # abroad workspace ids; None: none sent
    # Where an Idempotency-Key's submit is marked while Jimeng may not list it yet (None: unmarked),
    # and for how long (HISTORY_GRACE_SECONDS).
    state: SharedState | None = None
    listing_window: float = 600.0
    # Whose Idempotency-Keys these are, beyond secret_key (which is per API key in company mode):
    # each distinct account of the bearer in personal mode (a key is marked on every one of them, so
    # the same account meets its key whatever else the bearer lists; two clients' equal keys never
    # meet); one scope, the API key's, in company mode.
    idempotency_scopes: tuple[str, ...] = ("",)


@dataclass(frozen=True)
class SubmittedTask:
    task_id: str
    created: int
    model: str
    status: str = "pending"
    ratio: str | None = None          # what was asked for: OpenAI's answer shows it as `size`
    resolution: str | None = None
    duration: int | None = None
    # The same Jimeng task under another id (an idempotent replay's id by submit id, which a lost
    # generate answer handed out): its webhook is watched once, under whichever came first.
    aliases: tuple[str, ...] = ()


class Checked(Protocol):
    """A request that passed every check, on the account that will take it."""

    token: Token
    mode: str      # as metrics count submits: a video mode, or "text" / "references" for images
    count: int     # results asked for, carried in the task id (images); 0 for videos

    @property
    def model(self) -> Any: ...

    def answer(self, task_id: str, created: int) -> SubmittedTask: ...


@dataclass(frozen=True)
class SubmitFlow:
    """What differs between submitting a video and an image. The rest (company policy, the account,
    the Idempotency-Key, the one generate call, the webhook) is one orchestration that calls these in
    order: check, live_model, on_account, digest, upload, payload."""

    kind: str                                                              # "video" | "image", as in task ids
    # Every check no account changes, before any network: the tokens whose region can take it.
    check: Callable[[Any, Sequence[Token], SubmitSettings], list[Token]]
    # The model the account's live catalogue must offer on `token` (None: not asked).
    live_model: Callable[[Any, Token], VideoModel | None]
    # The request on the chosen account (its region's model, the account's live limits).
    on_account: Callable[[Any, Token, AccountModels | None], Checked]
    # What the request asks for, independent of route and body type (Idempotency-Key bodies).
    digest: Callable[[Any, Checked], bytes]
    # Fetch every input, then upload: the draft.
    upload: Callable[[Any, Checked, JimengClient, SubmitSettings], Any]
    # The draft's generate body: (draft, *, submit_id, workspace_id, origin_submit_id) -> dict.
    payload: Callable[..., dict]


def rewind_all(items) -> None:
    """Uploaded files back to their start: a submit moved to another pool account reads them again."""
    for item in items:
        if item.stream is not None and item.stream.seekable():
            item.stream.seek(0)


def load_media(item: MediaInput, settings: SubmitSettings, kind: str) -> Media:
    """Fetch, decode or read one input, checked to be of the expected kind."""
    if item.stream is not None:
        loaded = media.from_stream(item.stream, filename=item.filename, declared_type=item.declared_type,
                                   field=item.field, max_bytes=settings.max_upload_bytes)
    elif item.url and item.url.startswith("data:"):
        loaded = media.from_data_uri(item.url, field=item.field, max_bytes=settings.max_upload_bytes)
    elif item.url:
        loaded = media.fetch_url(item.url, field=item.field, max_bytes=settings.max_upload_bytes,
                                 timeout=settings.fetch_timeout, allow_loopback=settings.allow_loopback_media)
    else:
        raise errors.InvalidRequest(f"{item.field} is empty", param=item.field)
    media.expect_kind(loaded, kind)
    return loaded


def upload_checked_image(client: JimengClient, token: Token, loaded: Media) -> UploadedImage:
    """Upload to ImageX, then (CN) Jimeng's content check of the upload (protocol 4.1, 4.4)."""
    image = uploads.upload_image(client, token, loaded)
    if token.region.content_check:
        uploads.check_image_content(client, token, image.uri, field=loaded.field)
    return image


def send_generate(kind: str, token: Token, body: dict, client: JimengClient, settings: SubmitSettings, *,
                  count: int = 0) -> tuple[str, int]:
    """Submit once; (task id, its created time). `count` (results asked for) travels in the task id.

    The id is spelled from what the history record gives back by itself: its history id and
    Jimeng's own `created_time` (not our clock, not the forecast), so the list, a retry with the same
    Idempotency-Key and every other route show the very same id. Only a generate answer without a
    created_time falls back on our clock.

    A failure that may have reached Jimeng carries the task id that finds it by submit id, and is
    never retried here; a refusal Jimeng answered (it has an upstream code) created nothing.
    """
    submit_id = body["submit_id"]
    submitted_at = int(settings.clock())
    by_submit_id = TaskId(kind=kind, region=token.region.code, upstream_id=submit_id, submitted_at=submitted_at,
                          token_fp=token.fingerprint(fingerprint_key(settings.secret_key)), id_type="submit",
                          count=count)
    try:
        data = generate_claiming_daily(client, token, body, kind=kind)   # 1006: claim, resubmit once
    except (errors.UpstreamTimeout, errors.UpstreamUnavailable, errors.UpstreamError) as exc:
        if "upstream_code" in exc.extra:
            raise  # Jimeng answered with a refusal: nothing was created
        # The submit may have reached Jimeng. Never resend it; hand out an id that finds it by submit_id.
        exc.extra["task_id"] = by_submit_id.encode(settings.secret_key)
        exc.message += "; the task may still have been accepted: poll task_id before submitting again"
        raise
    # Jimeng accepted (and charged) the task: from here nothing may fail without a task id.
    record = data.get("aigc_data") if isinstance(data.get("aigc_data"), dict) else {}
    raw_id = record.get("history_record_id")
    if not _is_record_id(raw_id):
        raise errors.UpstreamError(
            "Jimeng accepted the task but answered with a history_record_id that is not an id; "
            "poll task_id (it finds the task by its submit id) before submitting again",
            extra={"task_id": by_submit_id.encode(settings.secret_key), "submit_id": submit_id})
    task = TaskId(kind=kind, region=token.region.code, upstream_id=str(raw_id or ""),
                  submitted_at=created_seconds(record, submitted_at), token_fp=by_submit_id.token_fp, count=count)
    try:
        return task.encode(settings.secret_key), task.submitted_at
    except (ValueError, UnicodeEncodeError):
        # No usable history id: the submit_id (ours, known to be well formed) finds it too.
        return by_submit_id.encode(settings.secret_key), submitted_at


def _is_record_id(value) -> bool:
    """A history record id is text or a whole number; absent counts too (the submit id finds it)."""
    if value is None or isinstance(value, str):
        return True
    return isinstance(value, int) and not isinstance(value, bool)

