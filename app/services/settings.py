"""Each request's settings objects, from the configuration and who is calling: made once in
create_app, asked per request. Company mode changes them (an API key tags its own task ids, and the
pool hears of the tasks a query sees), so they are never built from the configuration alone."""
from __future__ import annotations

from collections.abc import Callable

from app.services.api_keys import ApiKey, Caller, task_id_secret
from app.services.catalogue import LiveCatalogue
from app.services.pool import AccountPool
from app.services.submitting import SubmitSettings
from app.services.tasks import TaskSettings, fingerprint_key
from app.services.workspaces import Workspaces
from app.state.shared import SharedState


class Settings:
    def __init__(self, cfg, *, clock: Callable[[], float], state: SharedState, catalogue: LiveCatalogue,
                 workspaces: Workspaces, webhooks, pool: AccountPool | None) -> None:
        self.cfg, self.clock, self.state = cfg, clock, state
        self.catalogue, self.workspaces, self.webhooks, self.pool = catalogue, workspaces, webhooks, pool

    def secret(self, key: ApiKey | None) -> str:
        """Task ids of an API key are tagged under a key of their own: another key's ids do not decode."""
        return task_id_secret(self.cfg.SECRET_KEY, key)

    def tasks(self, who: Caller) -> TaskSettings:
        """How a query reads the caller's tasks."""
        cfg, key = self.cfg, who.key
        company = {} if key is None else dict(raw_ids=False, owner_removed_is_gone=True, on_seen=self.pool.task_seen)
        secret = self.secret(key)
        return TaskSettings(secret_key=secret, grace_seconds=cfg.HISTORY_GRACE_SECONDS, **cfg.task_timing(),
                            clock=self.clock, state=self.state, webhook_states=self.webhooks.states,
                            on_ended=lambda state: self.webhooks.task_ended(state, secret), **company)

    def submit(self, who: Caller) -> SubmitSettings:
        """How a submit of the caller's is made. Its Idempotency-Keys are the API key's (its secret),
        or in personal mode each of the bearer's accounts' (one scope per distinct account, however
        often or in whatever order the header lists it), so two clients' equal keys never meet."""
        cfg = self.cfg
        secret = self.secret(who.key)
        scopes = ("",) if who.key is not None else tuple(
            sorted({t.fingerprint(fingerprint_key(secret)).hex() for t in who.tokens}))
        return SubmitSettings(secret_key=secret, max_upload_bytes=cfg.MAX_UPLOAD_MB * 1024 * 1024,
                              max_prompt_chars=cfg.MAX_PROMPT_CHARS, fetch_timeout=cfg.FETCH_TIMEOUT,
                              allow_loopback_media=cfg.ALLOW_LOOPBACK_MEDIA, clock=self.clock,
                              catalogue=self.catalogue, workspaces=self.workspaces, state=self.state,
                              listing_window=cfg.HISTORY_GRACE_SECONDS, idempotency_scopes=scopes)
