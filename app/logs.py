"""Logging: structured lines, a request id on each, and tokens never written.

The same setup serves the app and gunicorn (via `logconfig_dict` in gunicorn.conf.py).
"""
from __future__ import annotations

import contextvars
import logging
import re

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Bearer values, session cookies and sid_guard-style values: whatever the source, they are masked.
_SECRETS = re.compile(r"(?i)(bearer\s+|sessionid(?:_ss)?=|sid_tt=|sid_guard=|\"token\"\s*:\s*\")[^\s;,\"]+")


def redact(text: str) -> str:
    return _SECRETS.sub(r"\1[redacted]", text)


class ContextFilter(logging.Filter):
    """Adds the request id and masks secrets in the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args) \
                if isinstance(record.args, tuple) else record.args
        return True


def logging_config(level: str = "INFO", fmt: str = "json") -> dict:
    """A dictConfig for the app and gunicorn alike."""
    formatters = {
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level"}},
        "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
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
