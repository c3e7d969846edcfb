"""Service routes: liveness, readiness and the model list."""
from __future__ import annotations

import hmac

from flask import current_app, request
from flask_smorest import Blueprint

from app import errors, metrics
from app.api import context
from app.jimeng.models import (DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, IMAGE_MODELS, IMAGE_RATIOS, VIDEO_MODELS,
                               VIDEO_RATIOS, video_modes_in)

blp = Blueprint("meta", __name__, description="Service health and models")


@blp.get("/ping")
@blp.doc(responses={"200": {"description": "pong", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def ping():
    """Liveness: the process answers."""
    return current_app.response_class("pong", mimetype="text/plain")


_HEALTH = {"description": "status ok or misconfigured, with the problems", "content": {"application/json": {
    "schema": {"type": "object", "properties": {"status": {"type": "string"},
                                                "problems": {"type": "array", "items": {"type": "string"}}}}}}}


@blp.get("/healthz")
@blp.doc(responses={"200": _HEALTH, "503": _HEALTH})
def healthz():
    """Readiness: the configuration is fit to serve."""
    problems = context.config().validate()
    body = {"status": "ok" if not problems else "misconfigured", "problems": problems}
    return body, (200 if not problems else 503)


@blp.get("/metrics")
@blp.doc(responses={"200": {"description": "Prometheus text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics_page():
    """Prometheus metrics of every worker; with METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
    expected = context.config().METRICS_TOKEN
    if expected:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            raise errors.MissingToken("/metrics needs Authorization: Bearer <METRICS_TOKEN>")
    body, content_type = metrics.render()
    return current_app.response_class(body, content_type=content_type)


@blp.get("/v1/models")
@blp.doc(responses={"200": {"description": "{object: list, data: [model]}", "content": {"application/json": {
    "schema": {"type": "object", "properties": {"object": {"type": "string"},
                                                "data": {"type": "array", "items": {"type": "object"}}}}}}}})
def models():
    """Video and image models, OpenAI-style, with each model's regions, modes and limits."""
    data = []
    for m in VIDEO_MODELS.values():
        modes = {r: list(video_modes_in(m, r)) for r in sorted(m.regions)}
        data.append({
            "id": m.name, "object": "model", "owned_by": "jimeng-api", "type": "video",
            "description": m.description, "regions": sorted(m.regions),
            "default_for_regions": sorted(r for r, n in DEFAULT_VIDEO_MODEL.items() if n == m.name),
            "durations": list(m.durations), "default_duration": m.default_duration,
            "resolutions": list(m.resolutions), "ratios": list(VIDEO_RATIOS), "fps": 24,
            "modes": modes,
            "limits": {mode: m.limits(mode).as_dict() for mode in m.modes},
        })
    for m in IMAGE_MODELS.values():
        data.append({
            "id": m.name, "object": "model", "owned_by": "jimeng-api", "type": "image",
            "description": m.description, "regions": sorted(m.regions),
            "default_for_regions": sorted(r for r, n in DEFAULT_IMAGE_MODEL.items() if n == m.name),
            "resolutions": list(m.resolutions), "ratios": list(IMAGE_RATIOS),
        })
    return {"object": "list", "data": data}
