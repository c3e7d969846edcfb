"""At submit: the request's webhook is checked before anything is sent (a refused webhook costs
nothing), and once Jimeng accepted the task it is watched. The submit service (app/services/submitter.py)
asks through the engine's `plan` and `watch_submitted`; nothing of this package is imported there."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from app import errors
from app.jimeng.regions import Token
from app.schemas.tasks import EVENTS
from app.services.api_keys import ApiKey
from app.services.submitting import WebhookRequest
from app.services.tasks import fingerprint_key
from app.task_ids import TaskId
from app.webhooks import sealed
from app.webhooks.keys import task_key
from app.webhooks.store import Watch
from app.webhooks.targets import Target, check_target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    target: Target
    events: tuple[str, ...]
    kind: str
    family: str
    api_key: str

    @property
    def pending_state(self) -> dict:
        """The `webhook` object of a task just watched, as its query shows it."""
        return {"host": self.target.host, "status": "pending", "attempts": 0, "last_status": None}

    @property
    def identity(self) -> str:
        """What the webhook asks for (where, which events), for an Idempotency-Key's request digest:
        a repeat with another webhook is another request."""
        return f"{self.target.url}\n{','.join(sorted(self.events))}"


def plan(request: WebhookRequest | None, kind: str, *, key: ApiKey | None, family: str, cfg) -> Plan | None:
    """The checked webhook of a submit (its own, or its API key's default), or None; 400/503 otherwise."""
    url = request.url if request is not None and request.url else (key.webhook_url if key else None)
    if not url:
        if request is not None and request.events:
            raise errors.InvalidRequest("webhook_events needs a webhook_url", param="webhook_events")
        return None
    events = (request.events if request is not None and request.events else None) or EVENTS[kind]
    wrong = [e for e in events if e not in EVENTS[kind]]
    if wrong:
        raise errors.InvalidRequest(f"a {kind} task fires {' and '.join(EVENTS[kind])}, not {', '.join(wrong)}",
                                    param="webhook_events")
    if not (cfg.WEBHOOK_SECRET or (key is not None and key.webhook_secret)):
        raise errors.WebhookUnavailable()
    param = "webhook_url" if request is not None and request.url else "webhook_url (the API key's default)"
    target = check_target(url, https_only=cfg.ENV_NAME == "production", allow_loopback=cfg.ALLOW_LOOPBACK_WEBHOOKS,
                          param=param)
    return Plan(target=target, events=tuple(events), kind=kind, family=family, api_key=key.name if key else "")


def watch_for(plan: Plan, task_id: str, tokens: Sequence[Token], secret_key: str, cfg) -> Watch | None:
    """The watch of the task the submit answered (`tokens`: those it was submitted with); None when
    the task id names none of them."""
    tid = TaskId.decode(task_id, secret_key)
    if tid is None:
        return None
    fp_key = fingerprint_key(secret_key)
    token = next((t for t in tokens if t.fingerprint(fp_key) == tid.token_fp and t.region.code == tid.region), None)
    if token is None:
        return None
    key = task_key(tid)
    timeout = cfg.VIDEO_TASK_TIMEOUT if tid.kind == "video" else cfg.IMAGE_TASK_TIMEOUT
    if token.account:
        account, pool_account, sealed_token = f"pool:{token.account}", token.account, ""
    else:
        account, pool_account = token.account_key.hex()[:32], ""
        secret = json.dumps({"session": token.session_id, "proxy": token.proxy})
        sealed_token = sealed.seal(cfg.SECRET_KEY, secret, key)
    return Watch(key=key, account=account, kind=tid.kind, task_id=task_id, family=plan.family,
                 url=plan.target.url, events=plan.events, region=tid.region, submitted_at=float(tid.submitted_at),
                 deadline=float(tid.submitted_at + timeout), api_key=plan.api_key, pool_account=pool_account,
                 sealed_token=sealed_token)
