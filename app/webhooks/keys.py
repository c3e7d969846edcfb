"""A task's identity for its webhook records: the same however its id is spelled (a query, the
list, an idempotent replay), and no secret in it."""
from __future__ import annotations

import hashlib

from app.task_ids import TaskId


def task_key(tid: TaskId) -> str:
    """The kind, region, account fingerprint and Jimeng id, digested (32 hex characters)."""
    text = f"{tid.kind}|{tid.region}|{tid.token_fp.hex()}|{tid.id_type}|{tid.upstream_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]
