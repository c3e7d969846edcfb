"""One log format per mode: text in development for the app's lines and gunicorn's alike, carrying
the same fields as the JSON lines of production."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from app.serving.logs import logging_config
from sandbox.stack import ROOT


def _render(fmt: str) -> str:
    config = logging_config("INFO", fmt)
    formatter = logging.config.DictConfigurator(config).configure_formatter(config["formatters"][fmt])
    record = logging.LogRecord("app.access", logging.INFO, __file__, 1, "request", None, None)
    record.request_id = "rid-1"
    record.route, record.status, record.ms = "/v1/videos/tasks/<task_id>", 200, 1.5
    return formatter.format(record)


def test_text_lines_carry_the_fields_json_lines_carry():
    text = _render("text")
    assert "[rid-1] app.access: request" in text
    assert "route=/v1/videos/tasks/<task_id> status=200 ms=1.5" in text
    fields = json.loads(_render("json"))
    assert {fields["route"], fields["status"], fields["ms"]} == {"/v1/videos/tasks/<task_id>", 200, 1.5}


def _gunicorn_formatter(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "APP_ENV", "PROMETHEUS_MULTIPROC_DIR")}
    script = ("import runpy; c = runpy.run_path('gunicorn.conf.py'); "
              "print(c['logconfig_dict']['handlers']['default']['formatter']); c['on_exit'](None)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_gunicorn_logs_in_the_format_of_the_apps_mode():
    assert _gunicorn_formatter({"APP_ENV": "development"}) == "text"
    assert _gunicorn_formatter({}) == "json"
    assert _gunicorn_formatter({"APP_ENV": "development", "LOG_FORMAT": "json"}) == "json"
