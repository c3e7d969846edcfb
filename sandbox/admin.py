"""The tester's control panel under `/_sandbox/`: faults, reset, records, call log, clock skip.

Not part of Jimeng: never faulted, never logged, and it shows session fingerprints, not ids.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from sandbox.checks import fingerprint
from sandbox.faults import parse_fault
from sandbox.sessions import parse_rule
from sandbox.state import SandboxState


def create_blueprint(state: SandboxState) -> Blueprint:
    bp = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")

    def error(message: str):
        return jsonify({"error": message}), 400

    @bp.post("/faults")
    def add_fault():
        """Queue a fault: {"path", "status", "count", "delay", "ret", "errmsg", "headers"}."""
        try:
            fault = parse_fault(request.get_json(silent=True))
        except (ValueError, TypeError) as exc:
            return error(str(exc))
        state.faults.add(fault)
        return jsonify({"queued": state.faults.pending()})

    @bp.get("/faults")
    def list_faults():
        return jsonify({"queued": state.faults.pending()})

    @bp.post("/reset")
    def reset():
        state.reset()
        return jsonify({"reset": True})

    @bp.get("/records")
    def records():
        now = state.now()
        return jsonify({"records": [record.summary(now) for record in state.records.all()]})

    @bp.get("/calls")
    def calls():
        return jsonify(state.faults.calls())

    @bp.delete("/calls")
    def clear_calls():
        state.faults.clear_calls()
        return jsonify({"cleared": True})

    @bp.post("/sessions")
    def set_session():
        """{"session": <session id>, "max_parallel": n|null, "login_expired": bool, "risky": bool}."""
        try:
            session, rule = parse_rule(request.get_json(silent=True))
        except ValueError as exc:
            return error(str(exc))
        state.sessions.set(session, rule)
        return jsonify({"session": fingerprint(session), "max_parallel": rule.max_parallel,
                        "login_expired": rule.login_expired, "risky": rule.risky})

    @bp.post("/credits")
    def set_credits():
        """{"session": <session id>, "credits": N, "claimable": bool}: the session's balance, and
        whether its daily credits can still be claimed today (default true)."""
        body = request.get_json(silent=True) or {}
        session, credits, claimable = body.get("session"), body.get("credits"), body.get("claimable", True)
        if not isinstance(session, str) or not session:
            return error('give {"session": <session id>, "credits": <n>, "claimable": <bool>}')
        if not isinstance(credits, int) or isinstance(credits, bool) or credits < 0:
            return error("credits must be a non-negative integer")
        if not isinstance(claimable, bool):
            return error("claimable must be true or false")
        account = state.credits.set(session, credits, claimable)
        return jsonify({"session": fingerprint(session), "credits": account.total, "claimable": account.claimable})

    @bp.post("/advance")
    def advance():
        """Age every record by {"seconds": N}: skip queues on a live sandbox without sleeping."""
        seconds = (request.get_json(silent=True) or {}).get("seconds")
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            return error('give {"seconds": <non-negative number>}')
        state.records.advance(float(seconds))
        return jsonify({"advanced": seconds})

    return bp
