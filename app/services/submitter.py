"""The one submit service: every submit route hands it a request and who is calling, and it runs the
submit from top to bottom. Made once in create_app.

1. The webhook asked for (or the API key's default) is checked: a refused webhook costs nothing.
2. Company mode: the API key may use the model, and has submits left this minute.
3. The kind's own checks (app/services/videos.py, images.py), before any network.
4. An account: one of the caller's tokens (the same one for the same Idempotency-Key), or in
   company mode a slot on the least loaded pool account; with the live catalogue, one whose
   account offers the model now.
5. The Idempotency-Key's claim: an earlier task made with the key answers instead, nothing is sent.
6. The media fetched and uploaded, the draft built, generate called once (it costs credits).
7. The task watched for its webhook; also when the generate's answer was lost (the error names a
   task that may exist: its webhook fires if it does, and the error says so).

In company mode a refusal that created nothing moves the submit to the next pool account; anything
that may have reached Jimeng is never resent.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from app import errors
from app.jimeng.regions import Token
from app.serving import metrics
from app.serving.stopping import StopSignal
from app.services import idempotency as idem
from app.services import images, videos
from app.services.api_keys import ApiKey, Caller
from app.services.catalogue import AccountModels
from app.services.idempotency import IdempotencyKey
from app.services.pool import AccountPool
from app.services.settings import Settings
from app.services.submitting import Checked, SubmitFlow, SubmitSettings, SubmittedTask, send_generate
from app.services.tasks import TaskState, fingerprint_key
from app.services.waiting import naming_the_task, wait_for_task, waiter_slot
from app.state.shared import SharedState
from app.task_ids import TaskId, short_form

log = logging.getLogger(__name__)

FLOWS: dict[type, SubmitFlow] = {videos.VideoRequest: videos.FLOW, images.ImageRequest: images.FLOW}
Request = videos.VideoRequest | images.ImageRequest


class Submitter:
    def __init__(self, cfg, client, settings: Settings, *, webhooks, pool: AccountPool | None, state: SharedState,
                 waiters: threading.BoundedSemaphore, clock: Callable[[], float]) -> None:
        """`webhooks`: the engine (app/webhooks/engine.py), whose `plan` and `watch_submitted` this
        service asks; the webhooks package sits above the services and is never imported here."""
        self.cfg, self.client, self.settings = cfg, client, settings
        self.webhooks, self.pool, self.state, self.waiters, self.clock = webhooks, pool, state, waiters, clock

    def submit(self, req: Request, who: Caller, *, idempotency: IdempotencyKey | None = None,
               family: str = "tasks") -> SubmittedTask:
        """Submit `req` for `who`. `family` is the route family whose shape its webhook events carry
        ("tasks", or "openai_videos")."""
        flow = FLOWS[type(req)]
        webhook = self.webhooks.plan(req.webhook, flow.kind, key=who.key, family=family)
        settings = self.settings.submit(who)
        try:
            if who.key is None:
                tokens = who.tokens
                task = self._attempt(flow, req, tokens, idem.chooser(idempotency, settings.secret_key), settings,
                                     idempotency, webhook)
            else:
                self._admit(who.key, req.model)
                task, tokens = self._on_pool(flow, req, settings, idempotency, webhook)
        except errors.ServiceError as exc:
            if webhook is not None and _may_exist(exc):
                self._watch_lost(webhook, exc, who.tokens, settings)
            raise
        if webhook is not None:
            self._watch(webhook, task, tokens, settings)
        return task

    def submit_and_wait(self, req: Request, who: Caller, *, idempotency: IdempotencyKey | None, family: str,
                        wait_s: float, quiet: bool, stop: StopSignal | None) -> tuple[SubmittedTask, TaskState]:
        """Blocking mode: a waiter slot first (a full house refuses before anything is paid), then
        submit and follow the task up to `wait_s`: its state then, finished or not when `quiet`
        (else a timeout error), or as it is when the server stops. Errors name the task."""
        kind = FLOWS[type(req)].kind
        with waiter_slot(self.waiters):
            task = self.submit(req, who, idempotency=idempotency, family=family)
            with naming_the_task(task.task_id):
                state = wait_for_task(kind, task.task_id, who.tokens, self.client, self.settings.tasks(who),
                                      timeout=wait_s, interval=self.cfg.WAIT_POLL_SECONDS, give_up_quietly=quiet,
                                      stop=stop)
        return task, state

    # -- the steps -------------------------------------------------------------------------------
    def _admit(self, key: ApiKey, model: str | None) -> None:
        """Company mode: the key's model allowlist and its submits per minute (counted across workers)."""
        if key.models is not None and model not in key.models:
            allowed = ", ".join(sorted(key.models)) or "none"
            raise errors.Forbidden(f"this API key may use the models {allowed}; name one in 'model'", param="model")
        if key.submits_per_minute is not None:
            now = self.clock()
            if self.state.count(f"rate:{key.name}:{int(now // 60)}", 120) > key.submits_per_minute:
                raise errors.RateLimited(f"this API key may submit {key.submits_per_minute} tasks per minute",
                                         headers={"Retry-After": str(int(60 - now % 60) + 1)})

    def _on_pool(self, flow: SubmitFlow, req: Request, settings: SubmitSettings,
                 idempotency: IdempotencyKey | None, webhook) -> tuple[SubmittedTask, list[Token]]:
        """Company mode: attempts on pool seats, the next account after a refusal that created nothing."""
        excluded: set[str] = set()
        while True:
            seat, tokens = self.pool.seat(excluded)
            req.rewind()        # uploaded files are read again by the next account's attempt
            try:
                task = self._attempt(flow, req, tokens, seat.take, settings, idempotency, webhook)
            except errors.ServiceError as exc:
                lost = exc.extra.get("task_id")
                if not seat.failed(exc, _upstream_id(lost, seat.account, settings)) or len(tokens) == 1:
                    raise
                log.info("account refused the submit; trying the next", extra={"account": seat.label,
                                                                                 "code": exc.code})
                excluded.add(seat.label)
                continue
            except BaseException:
                seat.release()
                raise
            seat.held_by(_upstream_id(task.task_id, seat.account, settings))
            return task, tokens

    def _attempt(self, flow: SubmitFlow, req: Request, tokens: Sequence[Token],
                 choose: Callable[[Sequence[Token]], Token], settings: SubmitSettings,
                 idempotency: IdempotencyKey | None, webhook) -> SubmittedTask:
        """Check, choose the account, claim the Idempotency-Key, send: one account's attempt. The
        key's request is the body and the webhook it asks for (`webhook`: the engine's plan)."""
        usable = flow.check(req, tokens, settings)
        token, account = self._account(flow, req, usable, choose, settings)
        checked = flow.on_account(req, token, account)
        body = b""
        if idempotency is not None:
            body = idem.with_webhook(flow.digest(req, checked), webhook.identity if webhook is not None else None)
        claim = idem.claim(flow.kind, idempotency, token, tokens, self.client, settings, body, count=checked.count)
        if claim.earlier_task_id is not None:
            earlier = checked.answer(claim.earlier_task_id, claim.earlier_created)
            return replace(earlier, aliases=(claim.earlier_alias,)) if claim.earlier_alias else earlier
        try:
            task = self._send(flow, req, checked, claim, settings)
        except errors.ServiceError as exc:
            idem.failed(claim, settings, exc)
            raise
        idem.accepted(claim, settings, task)
        return task

    def _account(self, flow: SubmitFlow, req: Request, usable: list[Token], choose: Callable[[Sequence[Token]], Token],
                 settings: SubmitSettings) -> tuple[Token, AccountModels | None]:
        """The first of `usable`, in `choose` order, whose account offers the model now (the live
        catalogue, for the kinds that have one); with none, the first account's refusal."""
        candidates, refusal = list(usable), None
        while True:
            token = choose(candidates)
            model = flow.live_model(req, token)
            if model is None or settings.catalogue is None:
                return token, None
            account = settings.catalogue.for_token(self.client, token)
            if account.offers(model):
                return token, account
            refusal = refusal or account.unavailable(model)
            candidates.remove(token)
            if not candidates:
                raise refusal

    def _send(self, flow: SubmitFlow, req: Request, checked: Checked, claim: idem.Claim,
              settings: SubmitSettings) -> SubmittedTask:
        """Upload, build the draft, generate once."""
        token = checked.token
        draft = flow.upload(req, checked, self.client, settings)
        workspace_id = settings.workspaces.for_token(self.client, token) if settings.workspaces else None
        body = flow.payload(draft, submit_id=claim.submit_id, workspace_id=workspace_id,
                            origin_submit_id=claim.origin_submit_id)
        idem.before_generate(claim, settings)
        try:
            task_id, created = send_generate(flow.kind, token, body, self.client, settings, count=checked.count)
        except errors.ModelUnavailable as exc:
            if flow.live_model(req, token) is None:
                raise
            raise self._model_refused(token, checked.model, exc, settings) from None
        metrics.submitted(flow.kind, checked.model.name, checked.mode)
        log.info(f"{flow.kind} submitted", extra={"task": short_form(task_id), "model": checked.model.name,
                                                  "mode": checked.mode, "region": token.region.code,
                                                  "count": checked.count})
        return checked.answer(task_id, created)

    def _model_refused(self, token: Token, model, exc: errors.ModelUnavailable,
                       settings: SubmitSettings) -> errors.ModelUnavailable:
        """ret 2061: Jimeng no longer offers the model to this account. Nothing was created; the
        refusal says what the account offers, and the catalogue remembers it for a while."""
        catalogue = settings.catalogue
        if catalogue is not None:
            catalogue.refused(token, model)
            account = catalogue.for_token(self.client, token)
        else:
            account = AccountModels(token.region.code, None, frozenset({model.req_key}))
        refusal = account.unavailable(model)
        refusal.extra.update(exc.extra)
        return refusal

    def _watch_lost(self, webhook, exc: errors.ServiceError, tokens: Sequence[Token],
                    settings: SubmitSettings) -> None:
        """The submit failed after it may have reached Jimeng: the task its error names is watched as
        an accepted one is (its webhook fires when it ends, if it exists), and the error says so."""
        try:
            watched = self.webhooks.watch_submitted(webhook, exc.extra["task_id"], tokens, settings.secret_key)
        except Exception:   # noqa: BLE001 - the error the client gets matters more than its webhook
            log.exception("webhook not registered for a task whose submit answer was lost")
            exc.message += "; its webhook could not be recorded: no event will be sent for it"
            return
        if watched:
            exc.extra["webhook"] = webhook.pending_state
            exc.message += "; if it was, its webhook fires when it ends"

    def _watch(self, webhook, task: SubmittedTask, tokens: Sequence[Token], settings: SubmitSettings) -> None:
        """Jimeng accepted the task: it is watched for its webhook. The store was usable a moment ago
        (the plan checked it); should recording fail all the same, the answer is an error naming the
        task, never a 200 whose webhook silently does not exist."""
        try:
            self.webhooks.watch_submitted(webhook, task.task_id, tokens, settings.secret_key, aliases=task.aliases)
        except Exception:   # noqa: BLE001 - whatever broke, the client must learn the webhook is missing
            log.exception("webhook not registered for an accepted task")
            raise errors.WebhookUnavailable(
                "Jimeng accepted the task (task_id), but this service could not record its webhook: no event "
                "will be sent for it. Poll task_id rather than submitting again (a request sent with an "
                "Idempotency-Key may be sent again with it: that records the webhook)",
                extra={"task_id": task.task_id}, headers={"Retry-After": "5"}) from None


def _may_exist(exc: errors.ServiceError) -> bool:
    """Whether a failed submit may have created its task: a 5xx naming a task id (the generate's
    answer was lost, or unreadable after Jimeng accepted). A 409 names a task another request made."""
    return exc.http_status >= 500 and bool(exc.extra.get("task_id"))


def _upstream_id(task_id: str | None, account, settings: SubmitSettings) -> str | None:
    """The task's upstream id when it runs on the seat's account (an idempotent replay may name a
    task another account already counts); None otherwise."""
    if task_id is None or account is None:
        return None
    tid = TaskId.decode(task_id, settings.secret_key)
    if tid is None or tid.token_fp != account.token.fingerprint(fingerprint_key(settings.secret_key)):
        return None
    return tid.upstream_id
