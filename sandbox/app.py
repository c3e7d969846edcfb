"""`create_sandbox`: the fake Jimeng as one Flask app serving every upstream host on one base URL."""
from __future__ import annotations

import time

from flask import Flask, Response, jsonify, request

from sandbox import admin, api, cdn, page, upload_views
from sandbox.checks import fingerprint
from sandbox.envelope import envelope
from sandbox.settings import Settings
from sandbox.state import SandboxState


def create_sandbox(settings: dict | None = None) -> Flask:
    """Build a sandbox. `settings` overrides the environment: clock, queue_seconds,
    generate_seconds, latency_ms, max_skew_seconds (see sandbox/settings.py)."""
    state = SandboxState(settings=Settings.load(settings), media=cdn.load_media_facts())
    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False          # keep Jimeng's field order
    app.json.ensure_ascii = False
    app.extensions["sandbox"] = state
    app.before_request(lambda: _before_call(state))
    app.after_request(lambda response: _after_call(state, response))
    for module in (api, upload_views, cdn, page, admin):
        app.register_blueprint(module.create_blueprint(state))
    return app


# What a caller says about its browser: logged so tests can see that the page's fetch says the same.
CLIENT_HEADERS = ("User-Agent", "Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform")


def _before_call(state: SandboxState) -> Response | None:
    """Log the call, add the configured latency, and play any fault queued for its path."""
    if request.path.startswith("/_sandbox/"):
        return None
    now = state.now()
    key = f"/?Action={request.args.get('Action', '')}" if request.path == "/" else request.path
    session = request.cookies.get("sessionid")
    client = {name.lower(): request.headers[name] for name in CLIENT_HEADERS if name in request.headers}
    state.faults.log_call(request.method, key, fingerprint(session) if session else None, now, client=client,
                          page_signed="msToken=" in request.query_string.decode("latin-1"))
    if state.settings.latency_ms:
        time.sleep(state.settings.latency_ms / 1000)
    fault = state.faults.take(request.path, key)
    if fault is None:
        return None
    if fault.after:
        request.environ["sandbox.fault_after"] = fault   # the call is carried out; its answer is lost
        return None
    return _play(fault, now)


def _after_call(state: SandboxState, response: Response) -> Response:
    """An `after` fault: the call took effect (a task was created), then the answer is delayed/replaced."""
    fault = request.environ.get("sandbox.fault_after")
    if fault is None:
        return response
    return _play(fault, state.now()) or response


def _play(fault, now: float) -> Response | None:
    if fault.delay:
        time.sleep(fault.delay)
    if fault.ret is not None:
        body = envelope(None, now, ret=fault.ret, errmsg=fault.errmsg or "sandbox fault")
        return Response(jsonify(body).get_data(), status=fault.status or 200, headers=fault.headers,
                        mimetype="application/json")
    if fault.status is not None:
        return Response(f"sandbox fault: HTTP {fault.status}\n", status=fault.status, headers=fault.headers,
                        mimetype="text/plain")
    return None
