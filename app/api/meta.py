"""Service routes: liveness, readiness and the model list."""
from __future__ import annotations

import hmac
from dataclasses import replace

from flask import current_app, request
from flask_smorest import Blueprint

from app import errors
from app.serving import metrics
from app.api import context
from app.jimeng.models import (DEFAULT_IMAGE_MODEL, DEFAULT_VIDEO_MODEL, IMAGE_MODELS, IMAGE_RATIOS, MAX_IMAGES,
                               VIDEO_MODELS, VIDEO_RATIOS, VideoModel, video_modes_in)

blp = Blueprint("meta", __name__, description="Service health and models")
# OpenAI's model objects carry `created` (unix seconds). Jimeng publishes no dates: this is a fixed
# stand-in (2025-01-01) so the value never changes between calls or workers.
MODEL_CREATED = 1735689600


@blp.get("/ping")
@blp.doc(responses={"200": {"description": "pong", "content": {"text/plain": {"schema": {"type": "string"}}}}})
def ping():
    """Liveness: the process answers."""
    return current_app.response_class("pong", mimetype="text/plain")


_HEALTH = {"description": "status ok, misconfigured or unavailable, with the problems", "content": {"application/json": {
    "schema": {"type": "object", "properties": {
        "status": {"type": "string", "enum": ["ok", "misconfigured", "unavailable"],
                   "description": "misconfigured: the configuration is unfit; unavailable: a store the requests "
                                  "need (the shared state, the webhook store) cannot be written now"},
        "problems": {"type": "array", "items": {"type": "string"}},
        "browser": {"type": "object"},
        "upstream": {"type": "string", "enum": ["ok", "degraded", "unknown"],
                     "description": "degraded: Jimeng refused our requests as outdated (ret 3018, invalid "
                                    "parameter) at least UPSTREAM_DEGRADED_AFTER times lately; see GET /v1/doctor"},
        "upstream_refusals": {"type": "integer", "nullable": True,
                              "description": "those refusals within the window, every worker counted"},
        "upstream_window_seconds": {"type": "integer"}}}}}}


@blp.get("/healthz")
@blp.doc(responses={"200": _HEALTH, "503": _HEALTH})
def healthz():
    """Readiness: the configuration is fit to serve, and the stores requests need can be written (the
    shared state; the webhook store where webhooks are on); the browser transport's state (never
    started here); and whether Jimeng lately refused our requests as outdated (`upstream`; no
    upstream call is made).

    A missing browser or a degraded upstream does not make the service unready: it still answers 200."""
    problems = context.config().validate()
    unusable = _unusable_stores()
    status = "misconfigured" if problems else "unavailable" if unusable else "ok"
    body = {"status": status, "problems": problems + unusable,
            "browser": context.client().browser_status(), **current_app.extensions["degraded"].status()}
    return body, (200 if status == "ok" else 503)


def _unusable_stores() -> list[str]:
    """What the stores say when they cannot be written now (each waits at most about a second for
    another process's write, outside SQLite: the worker's other requests go on meanwhile)."""
    found = []
    try:
        current_app.extensions["shared_state"].check()
    except errors.StateUnavailable as exc:
        found.append(exc.message)
    hooks = current_app.extensions["webhooks"]
    if hooks.wanted():
        problem = hooks.problem()
        if problem is not None:
            found.append(problem)
    return found


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
@blp.doc(security=[{}, {"bearer": []}], responses={"200": {
    "description": "{object: list, data: [model]}; with a bearer token only what those accounts can use now",
    "content": {"application/json": {"schema": {"type": "object", "properties": {
        "object": {"type": "string"}, "data": {"type": "array", "items": {"type": "object"}}}}}}}})
def models():
    """Video and image models, OpenAI-style, with each model's regions, modes and limits.

    Without a token: the static table. With `Authorization: Bearer <token>[,...]`: the video models
    those accounts can use now (Jimeng's live catalogue, merged over the table)."""
    video = list(VIDEO_MODELS.values())
    if request.headers.get("Authorization"):
        video = _live_video_models(context.tokens())
    data = [_video_entry(m) for m in video]
    for m in IMAGE_MODELS.values():
        data.append({
            "id": m.name, "object": "model", "created": MODEL_CREATED, "owned_by": "jimeng-api", "type": "image",
            "description": m.description, "regions": sorted(m.regions),
            "default_for_regions": sorted(r for r, n in DEFAULT_IMAGE_MODEL.items() if n == m.name),
            "resolutions": list(m.resolutions), "default_resolution": m.default_resolution,
            "ratios": list(IMAGE_RATIOS), "max_n": MAX_IMAGES,
        })
    return {"object": "list", "data": data}


@blp.get("/v1/models/<model_id>")
@blp.doc(responses={"200": {"description": "one model, the same object as in the list", "content": {
    "application/json": {"example": {"id": "jimeng-video-3.0", "object": "model", "created": MODEL_CREATED,
                                     "owned_by": "jimeng-api", "type": "video"}}}}})
def model(model_id: str):
    """One model (OpenAI's retrieve); a configured alias answers its target model."""
    aliases = context.config().OPENAI_MODEL_ALIASES
    wanted = aliases.get(model_id, model_id)
    if wanted == "default":
        wanted = DEFAULT_VIDEO_MODEL["cn"]
    found = next((m for m in models()["data"] if m["id"] == wanted), None)
    if found is None:
        raise errors.NotFound(f"no model {model_id!r}; see GET /v1/models")
    return found


def _live_video_models(tokens) -> list[VideoModel]:
    """Each model offered to at least one of the accounts, as the first such account sees it,
    limited to the regions of the accounts that offer it."""
    found: dict[str, tuple[VideoModel, set[str]]] = {}
    for token in tokens:
        account = context.catalogue().for_token(context.client(), token)
        for model in VIDEO_MODELS.values():
            if account.offers(model):
                merged, regions = found.setdefault(model.name, (account.merged(model), set()))
                regions.add(token.region.code)
    return [replace(m, regions=frozenset(regions)) for m, regions in found.values()]


def _video_entry(m: VideoModel) -> dict:
    return {
        "id": m.name, "object": "model", "created": MODEL_CREATED, "owned_by": "jimeng-api", "type": "video",
        "description": m.description, "regions": sorted(m.regions),
        "default_for_regions": sorted(r for r, n in DEFAULT_VIDEO_MODEL.items() if n == m.name and r in m.regions),
        "durations": list(m.durations), "default_duration": m.default_duration,
        "resolutions": list(m.resolutions), "ratios": list(VIDEO_RATIOS),
        "frame_rates": list(m.frame_rates), "fps": m.frame_rates[0],
        "vip": m.vip,
        "modes": {r: list(video_modes_in(m, r)) for r in sorted(m.regions)},
        "limits": {mode: m.limits(mode).as_dict() for mode in m.modes},
    }
