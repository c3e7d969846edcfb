"""Logging: structured lines, a request id on each, and tokens never written.

The same setup serves the app and gunicorn (via `logconfig_dict` in gunicorn.conf.py).
"""
from __future__ import annotations

import base64
import contextvars
import functools
import logging
import re
from urllib.parse import quote

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# The session ids of the request being served: masked wherever they appear, even bare (Jimeng
# echoes them in error messages without any `sessionid=` around them).
request_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("request_secrets", default=())
MIN_SECRET_LENGTH = 8          # shorter values would mask ordinary words

# Bearer values, session cookies and sid_guard-style values: whatever the source, they are masked.
# A placeholder in angle brackets is our own help text ("Bearer <sessionid>"), not a secret.
_SECRETS = re.compile(r"(?i)(bearer\s+|sessionid(?:_ss)?=|sid_tt=|sid_guard=|\"token\"\s*:\s*\"|"
                      r"secret_key\s*[=:]\s*['\"]?)(?!<[\w -]*>)[^\s;,\"'\]]+")


def redact(text: str) -> str:
    text = _SECRETS.sub(r"\1[redacted]", text)
    secrets = request_secrets.get()
    if secrets:
        text = _secret_forms(secrets).sub("[redacted]", text)
    return text


def secret_forms(secret: str) -> set[str]:
    """Every form in which a session id may come back (from Jimeng, or in a browser's capture): as
    sent, URL-encoded, hex-encoded, and base64-encoded (standard or URL-safe alphabet) inside a longer
    value. Masked in any letter case."""
    forms = {secret, quote(secret, safe=""), secret.encode().hex()}
    forms.update(_base64_cores(secret.encode()))
    return forms


@functools.lru_cache(maxsize=256)
def _secret_forms(secrets: tuple[str, ...]) -> re.Pattern:
    """One pattern for every form of these secrets (secret_forms), in any letter case. Longest
    first, so a form is masked whole."""
    forms = {re.escape(form) for secret in secrets for form in secret_forms(secret)}
    cased = "|".join(sorted(forms, key=len, reverse=True))
    return re.compile(f"(?i:{cased})" if cased else "(?!)")


def _base64_cores(raw: bytes) -> set[str]:
    """The characters of the base64 of any text containing `raw` that depend on `raw` alone, for each
    of its three alignments. Letter case matters in base64, so these are matched exactly: the
    `(?i:)` above makes them a little wider than they are, never narrower."""
    cores = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[4 if offset else 0:(offset + len(raw)) // 3 * 4]
        if len(core) >= MIN_SECRET_LENGTH:
            cores.update({core, core.translate(str.maketrans("+/", "-_"))})
    return cores


def remember_secrets(values) -> None:
    """Mask these values (this request's session ids) in every message and log line from now on."""
    known = request_secrets.get()
    request_secrets.set(known + tuple(v for v in values if len(v) >= MIN_SECRET_LENGTH and v not in known))


class ContextFilter(logging.Filter):
    """Adds the request id and masks secrets in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        try:
            message = record.getMessage()   # args of any type (gunicorn passes lists) are masked too
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        return True


class TextFormatter(logging.Formatter):
    """Text lines (development) with the same fields as the JSON lines: extras follow as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        from pythonjsonlogger.core import RESERVED_ATTRS

        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items()
                  if k not in RESERVED_ATTRS and k not in ("request_id", "taskName") and not k.startswith("_")}
        return line + "".join(f" {k}={v}" for k, v in extras.items())


def default_log_format(env_name: str | None) -> str:
    """Readable text in development (and the tests), JSON lines everywhere else: one format per mode,
    for the app's lines and gunicorn's alike."""
    return "text" if (env_name or "production").lower() in ("development", "testing") else "json"


def logging_config(level: str = "INFO", fmt: str = "json") -> dict:
    """A dictConfig for the app and gunicorn alike."""
    formatters = {
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level"}},
        "text": {"()": TextFormatter, "fmt": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": formatters,
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": fmt, "filters": ["context"],
                                 "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {"gunicorn.error": {"level": level, "handlers": ["default"], "propagate": False},
                    "gunicorn.access": {"level": "WARNING", "handlers": ["default"], "propagate": False},
                    "urllib3": {"level": "WARNING"}},
    }
