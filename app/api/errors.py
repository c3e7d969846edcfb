"""One JSON error shape for every non-2xx answer: {"error": {"code", "message", "param"}}."""
from __future__ import annotations

import logging

import re

from flask import Flask, jsonify, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app import errors
from app.api.path_ids import RESERVED
from app.serving.logs import redact

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors -> our codes (the contract's table).
HTTP_CODES = {400: errors.InvalidRequest, 404: errors.NotFound, 405: errors.MethodNotAllowed,
              408: errors.RequestTimeout, 413: errors.PayloadTooLarge, 415: errors.UnsupportedMediaType}


TASK_PATHS = re.compile(r"^/v1/(videos|images)/tasks/.")


def render(exc: errors.ServiceError):
    exc.message = redact(exc.message)
    response = jsonify(exc.to_dict())
    response.status_code = exc.http_status
    for name, value in exc.headers.items():
        response.headers[name] = value
    for name, value in retry_headers(exc).items():
        response.headers.setdefault(name, value)
    return response


def retry_headers(exc: errors.ServiceError) -> dict[str, str]:
    """What OpenAI-style clients read before retrying on their own.

    A task may exist (and be paid for) when the error names one: retrying would submit it again.
    A 409 (conflict, not finished) never heals by resending the same request either; the SDKs
    retry 409 unless told not to. 429 and 503 say when to come back.
    """
    headers = {}
    if "task_id" in exc.extra or exc.http_status == 409:
        headers["x-should-retry"] = "false"
    if exc.http_status in (429, 503) and exc.retry_after:
        headers["Retry-After"] = str(exc.retry_after)
    return headers


def first_validation_problem(messages: dict | list | str, prefix: str = "") -> tuple[str | None, str]:
    """(param, message) of the first problem in marshmallow's nested messages."""
    if isinstance(messages, dict) and messages:
        key, value = next(iter(messages.items()))
        if key == "_schema":  # marshmallow's key for rules spanning fields: the problem is the parent
            name = prefix
        elif isinstance(key, int):
            name = f"{prefix}[{key}]"
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        return first_validation_problem(value, name)
    if isinstance(messages, list) and messages:
        if all(isinstance(m, str) for m in messages):
            return prefix or None, messages[0]
        return first_validation_problem(messages[0], prefix)
    return prefix or None, str(messages) if messages else "invalid request"


def validation_error(exc: ValidationError) -> errors.InvalidRequest:
    param, message = first_validation_problem(exc.messages)
    text = f"{param}: {message}" if param else message
    return errors.InvalidRequest(text, param=param)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(errors.ServiceError)
    def _service_error(exc: errors.ServiceError):
        level = logging.WARNING if exc.http_status >= 500 else logging.INFO
        log.log(level, "request failed: %s", exc.message, extra={"error_code": exc.code, "status": exc.http_status})
        return render(exc)

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):
        return render(validation_error(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        # flask-smorest/webargs put schema messages on the exception (422 by default): use ours.
        messages = getattr(exc, "data", {}).get("messages") if isinstance(getattr(exc, "data", None), dict) else None
        if messages:
            flat = messages.get("json", messages.get("form", messages)) if isinstance(messages, dict) else messages
            return render(validation_error(ValidationError(flat)))
        cls = HTTP_CODES.get(exc.code or 500)
        if cls is errors.NotFound and TASK_PATHS.match(request.path) and \
                request.path.split("/")[4] not in RESERVED:   # tasks/content: no task, no route
            # A standard-base64 id with "/" splits the path: still an unknown task, not an unknown route.
            return render(errors.TaskNotFound())
        if cls is errors.PayloadTooLarge:
            return render(errors.PayloadTooLarge("the request body is larger than this service accepts"))
        if cls is errors.MethodNotAllowed:
            allowed = ", ".join(sorted(getattr(exc, "valid_methods", None) or []))
            return render(cls(headers={"Allow": allowed} if allowed else None))
        if cls is not None:
            return render(cls(exc.description if cls is not errors.NotFound else None))
        return render(errors.ServiceError(exc.description))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return render(errors.ServiceError("internal error; the request was logged"))
