"""Domain errors: each carries the stable `code`, the HTTP status and a message a person can act on.

No Flask here, so every layer (jimeng included) can raise them; `app/api/errors.py` renders them.
"""
from __future__ import annotations


class ServiceError(Exception):
    """Base of every error a client may see. Subclasses fix `code` and `http_status`."""

    code = "internal_error"
    http_status = 500
    default_message = "internal error"
    retry_after: int | None = None   # seconds; sent as Retry-After on 429/503 when upstream gave none

    def __init__(self, message: str | None = None, *, param: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict | None = None) -> None:
        self.message = message or self.default_message
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message, "param": self.param}
        body.update(self.extra)
        return {"error": body}


class InvalidRequest(ServiceError):
    code, http_status, default_message = "invalid_request", 400, "the request is invalid"


class InvalidCapture(InvalidRequest):
    code = "invalid_capture"
    default_message = "the capture is not a HAR file (DevTools > Network > Save all as HAR)"


class UnsupportedModel(ServiceError):
    code, http_status, default_message = "unsupported_model", 400, "this model is not supported"


class ModelUnavailable(ServiceError):
    code, http_status = "model_unavailable", 400
    default_message = "Jimeng no longer offers this model, or not to this account"


class ContentRejected(ServiceError):
    code, http_status, default_message = "content_rejected", 400, "Jimeng rejected the content"


class PromptRejected(ContentRejected):
    code, default_message = "prompt_rejected", "Jimeng refused the prompt when the task was submitted"


class OutputRejected(ContentRejected):
    code, default_message = "output_rejected", "Jimeng's review refused the result; no credits were charged"


class MissingToken(ServiceError):
    code, http_status = "missing_token", 401
    default_message = "send your Jimeng session id as 'Authorization: Bearer <sessionid>'"


class TokenInvalid(ServiceError):
    code, http_status = "token_invalid", 401
    default_message = "Jimeng says the session is invalid or expired; log in again and use a new session id"


class InvalidApiKey(ServiceError):
    code, http_status = "invalid_api_key", 401
    default_message = "this service takes an API key: send 'Authorization: Bearer <api key>'"


class Forbidden(ServiceError):
    code, http_status, default_message = "forbidden", 403, "this API key may not do this"


class InsufficientCredits(ServiceError):
    code, http_status, default_message = "insufficient_credits", 402, "the account has not enough credits"


class RiskControl(ServiceError):
    code, http_status = "risk_control", 403
    default_message = "Jimeng's anti-abuse check refused the request; it will not be retried"


class RegionNotAllowed(ServiceError):
    code, http_status = "region_not_allowed", 403
    default_message = "this feature or model is not available in the account's region"


class TaskNotFound(ServiceError):
    code, http_status = "task_not_found", 404
    default_message = "no such task for the given token (unknown, expired or not yours)"


class NotFound(ServiceError):
    code, http_status, default_message = "not_found", 404, "no such resource"


class MethodNotAllowed(ServiceError):
    code, http_status, default_message = "method_not_allowed", 405, "method not allowed on this path"


class RequestTimeout(ServiceError):
    code, http_status, default_message = "request_timeout", 408, "the request arrived too slowly"


class TaskNotFinished(ServiceError):
    code, http_status, default_message = "task_not_finished", 409, "the task has not completed yet"


class TaskCancelled(ServiceError):
    code, http_status = "cancelled", 409
    default_message = "the task was cancelled while queued; Jimeng returned the credits"


class TaskNotCancellable(ServiceError):
    code, http_status, default_message = "task_not_cancellable", 409, "this task cannot be cancelled"


class IdempotencyConflict(ServiceError):
    code, http_status = "idempotency_conflict", 409
    default_message = "this Idempotency-Key was already used for another request"


class AccountRemoved(ServiceError):
    code, http_status = "account_removed", 410
    default_message = "the account that submitted this task is no longer configured on this service"


class PayloadTooLarge(ServiceError):
    code, http_status, default_message = "payload_too_large", 413, "the request or a media file is too large"


class UnsupportedMediaType(ServiceError):
    code, http_status, default_message = "unsupported_media_type", 415, "unsupported content type"


class RateLimited(ServiceError):
    code, http_status, default_message = "rate_limited", 429, "Jimeng asks to slow down; retry later"
    retry_after = 10


class ConcurrencyLimit(ServiceError):
    code, http_status = "concurrency_limit", 429
    default_message = "the Jimeng account has too many running tasks; retry when one has finished"
    retry_after = 30


class ServiceBusy(ServiceError):
    code, http_status = "service_busy", 503
    default_message = "too many blocking requests are waiting; use the async API or retry later"
    retry_after = 5


class UpstreamError(ServiceError):
    code, http_status, default_message = "upstream_error", 502, "Jimeng answered with an error"


class UpstreamChanged(UpstreamError):
    code = "upstream_changed"
    default_message = ("Jimeng refused this client's protocol (ret 3018); the protocol constants may need "
                       "an update (see the protocol constants in docs/jimeng-changes.md)")


class UpstreamUnavailable(ServiceError):
    code, http_status, default_message = "upstream_unavailable", 503, "Jimeng cannot be reached right now"
    retry_after = 5


class BrowserUnavailable(ServiceError):
    code, http_status = "browser_unavailable", 503
    retry_after = 60
    default_message = ("this call needs the browser transport, but no usable Chromium was found; install "
                       "Debian's 'chromium' package or set BROWSER_EXECUTABLE")


class StateUnavailable(ServiceError):
    code, http_status = "state_unavailable", 503
    default_message = "the service's shared state cannot be used right now; retry later"
    retry_after = 5


class WebhookUnavailable(ServiceError):
    code, http_status = "webhook_unavailable", 503
    default_message = ("this service cannot sign webhooks: its operator has not set WEBHOOK_SECRET "
                       "(whsec_...); submit without webhook_url")


class UpstreamTimeout(ServiceError):
    code, http_status, default_message = "upstream_timeout", 504, "Jimeng did not answer in time"


class GenerationFailed(UpstreamError):
    code, default_message = "generation_failed", "Jimeng could not generate the result"


class TaskTimedOut(UpstreamTimeout):
    code, default_message = "timeout", "the task did not finish in time"


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


BY_CODE: dict[str, type[ServiceError]] = {c.code: c for c in _all_subclasses(ServiceError)}


def error_for_code(code: str | None, message: str | None) -> ServiceError:
    """The error a failed task's `error_code` stands for (blocking mode answers with it)."""
    return BY_CODE.get(code or "", GenerationFailed)(message)


class ProxyNotAllowed(InvalidRequest):
    code = "proxy_not_allowed"
    default_message = ("this service does not connect through token proxies (TOKEN_PROXY_ALLOWLIST is empty); "
                       "send the session id without a proxy prefix")


BY_CODE[ProxyNotAllowed.code] = ProxyNotAllowed
