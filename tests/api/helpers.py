"""Small builders for API tests."""
from __future__ import annotations

from app.jimeng.regions import parse_token
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId


def auth(*tokens: str) -> dict:
    return {"Authorization": "Bearer " + ",".join(tokens)}


def task_id_for(app, token: str, upstream_id: str = "4722540945676", *, submitted_at: float,
                kind: str = "video", count: int = 0) -> str:
    """A task id as the service would have issued it to `token` (submitted_at: the record's created_time)."""
    secret = app.config["SECRET_KEY"]
    tok = parse_token(token)
    return TaskId(kind=kind, region=tok.region.code, upstream_id=upstream_id, submitted_at=int(submitted_at),
                  token_fp=tok.fingerprint(fingerprint_key(secret)), count=count).encode(secret)
