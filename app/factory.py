"""The application factory: config, logging, the Jimeng client, blueprints, error handlers.

Kept out of the package's `__init__`, so that importing any part of `app` (the Jimeng client in the
browser helper process, the gunicorn master's config) loads neither Flask nor `config`."""

from __future__ import annotations

import contextlib
import logging.config
import threading
import time
import uuid

from flask import Flask, g, request
from flask.sessions import SessionInterface

from app import __version__
from app.state.shared import SharedState
from config import Config, load_config, max_request_mb

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class NoCookieSessions(SessionInterface):
    """No Flask session: the API is stateless and reads no cookie (a signed-cookie session cost a
    serializer per request and let any client make us verify a cookie it sent)."""

    def open_session(self, app: Flask, request) -> None:
        return None   # Flask then uses a null session, which refuses writes

    def save_session(self, app: Flask, session, response) -> None:
        return None


def create_app(config: Config | dict | None = None, *, shared_state: SharedState | None = None) -> Flask:
    """Build the app: config, logging, the Jimeng client, the services, blueprints, error handlers.

    `config` is a Config object, or a mapping of overrides on top of the testing config;
    `shared_state` replaces the store the configuration names (tests: a failing one, Redis).
    """
    from flask_smorest import Api

    from app.serving import metrics
    from app.api import accounts, docs, doctor, images, meta, openai_videos, tokens, videos
    from app.api.docs_examples import RequestExamples
    from app.api.errors import register_error_handlers
    from app.api.path_ids import IdConverter, id_parameter_schema
    from app.api.request_body import close_spooled, guarded_input
    from app.errors import StateUnavailable
    from app.api.answers import state_json
    from app.jimeng.browser.setup import browser_transport
    from app.jimeng.client import JimengClient
    from app.serving.logs import logging_config, request_id, request_secrets
    from app.net.proxies import ProxyAllowlist
    from app.services.catalogue import LiveCatalogue
    from app.services.degraded import DegradedSignal
    from app.services.openai_shapes import video_answer
    from app.services.settings import Settings
    from app.services.submitter import Submitter
    from app.services.workspaces import Workspaces
    from app.state.shared import shared_state_for
    from app.webhooks.setup import install_webhooks
    from app.schemas.tasks import ErrorSchema

    if config is None:
        cfg = load_config()
    elif isinstance(config, dict):
        cfg = load_config("testing")
        for key, value in config.items():
            setattr(cfg, key, value)
    else:
        cfg = config
    if cfg.ENV_NAME == "production" and len(cfg.SECRET_KEY) < 16:
        raise RuntimeError("SECRET_KEY must be set (at least 16 characters) in production")
    from app.jimeng import wire_settings
    wire_problems = wire_settings.check()
    if wire_problems:   # a fix that does not parse must not start half applied
        raise RuntimeError("the JIMENG_* protocol settings are malformed (README \"When Jimeng changes\"): "
                           + "; ".join(wire_problems))

    app = Flask(__name__)
    # The API keeps no cookie session; Flask's default would build a signing serializer per request.
    app.session_interface = NoCookieSessions()
    # A body the server cannot decode (a bad chunk size) is a 400 wherever a route reads it.
    app.wsgi_app = guarded_input(app.wsgi_app)
    # Werkzeug would answer "//" in a path with an HTML redirect (even for POST); we answer 404 JSON.
    app.url_map.merge_slashes = False
    # No word of ours is ever taken for an id: a method a path lacks is a 405, on every route.
    app.url_map.converters["default"] = app.url_map.converters["string"] = IdConverter
    app.config.update(cfg.as_dict())
    app.config.update(
        API_TITLE="jimeng-api", API_VERSION=__version__, OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={"info": {"description": docs.INTRODUCTION}},
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="/docs/static/",
        # A whole request may carry the most files a mode takes (omni: 12 materials) plus its form;
        # each file is capped at MAX_UPLOAD_MB on its own. Werkzeug spools large parts to disk.
        MAX_CONTENT_LENGTH=max_request_mb(cfg.MAX_UPLOAD_MB) * 1024 * 1024,
        # Multipart text fields may hold a data URI of a whole file (base64: 4/3 of its size).
        MAX_FORM_MEMORY_SIZE=(cfg.MAX_UPLOAD_MB * 4 // 3 + 1) * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    if not cfg.TESTING:
        logging.config.dictConfig(logging_config(cfg.LOG_LEVEL, cfg.LOG_FORMAT))
    app.json.sort_keys = False

    app.extensions["jimeng_client"] = JimengClient(
        upstream_url=cfg.JIMENG_UPSTREAM_URL, timeout=cfg.JIMENG_TIMEOUT,
        connect_timeout=cfg.JIMENG_CONNECT_TIMEOUT, pool_size=max(cfg.UPSTREAM_POOL_SIZE, 1),
        proxy=cfg.UPSTREAM_PROXY, **browser_transport(cfg))
    app.extensions["app_config"] = cfg
    app.extensions["proxy_allowlist"] = ProxyAllowlist.parse(cfg.TOKEN_PROXY_ALLOWLIST)
    app.extensions["waiters"] = threading.BoundedSemaphore(max(cfg.MAX_WAITERS, 1))
    app.extensions["catalogue"] = LiveCatalogue(ttl=cfg.CATALOGUE_TTL, enabled=cfg.LIVE_CATALOGUE)
    app.extensions["workspaces"] = Workspaces()
    # Idempotency markers, HD links, and in company mode the pool and key limits: the host's store
    # under DATA_DIR, or Redis with REDIS_URL.
    def clock() -> float:
        """Tests put a hand-moved clock in app.extensions["clock"]; otherwise real time."""
        return (app.extensions.get("clock") or time.time)()

    app.extensions["shared_state"] = state = shared_state or shared_state_for(cfg.REDIS_URL, cfg.DATA_DIR, clock)
    if shared_state is None and not cfg.REDIS_URL:
        # DATA_DIR made (0700) and the file opened at start, so a problem shows in the log before the
        # first request; until it is fixed, what needs the state answers 503.
        with contextlib.suppress(StateUnavailable):
            state.check()
    # Jimeng's refusals of our requests as outdated, counted across workers for /healthz.
    app.extensions["degraded"] = DegradedSignal(state, clock, window=cfg.UPSTREAM_DEGRADED_WINDOW,
                                                threshold=cfg.UPSTREAM_DEGRADED_AFTER)
    app.extensions["jimeng_client"].on_outdated = app.extensions["degraded"].record
    pool = accounts.install(app, cfg, clock)
    # Webhooks: their events carry each task as its route family answers a query.
    webhooks = install_webhooks(app, cfg, clock,
                                shapes={"tasks": state_json, "openai_videos": video_answer})
    # The services the views call: each caller's settings, and the one submit service.
    app.extensions["settings"] = settings = Settings(
        cfg, clock=clock, state=state, catalogue=app.extensions["catalogue"],
        workspaces=app.extensions["workspaces"], webhooks=webhooks, pool=pool)
    app.extensions["submitter"] = Submitter(cfg, app.extensions["jimeng_client"], settings, webhooks=webhooks,
                                            pool=pool, state=state, waiters=app.extensions["waiters"], clock=clock)

    class JimengApi(Api):
        ERROR_SCHEMA = ErrorSchema  # the spec documents the error shape we really answer

    api = JimengApi(app, spec_kwargs={"extra_plugins": [RequestExamples()], "components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer",
                   "description": "Jimeng session id(s), comma separated; optional region prefix us-/hk-/jp-/sg-"}}}})
    api.register_converter(IdConverter, id_parameter_schema)
    api.register_blueprint(videos.blp)
    api.register_blueprint(openai_videos.blp)
    api.register_blueprint(images.blp)
    api.register_blueprint(meta.blp)
    api.register_blueprint(tokens.blp)
    api.register_blueprint(accounts.blp)
    api.register_blueprint(doctor.blp)
    app.register_blueprint(docs.bp)
    register_error_handlers(app)  # after Api: our JSON shape wins over flask-smorest's

    access = logging.getLogger("app.access")

    @app.before_request
    def _start():
        g.started = time.monotonic()
        rid = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
        g.request_id = rid
        g.request_id_token = request_id.set(rid)
        g.request_secrets_token = request_secrets.set(())

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        rule = request.url_rule.rule if request.url_rule else "unmatched"
        seconds = time.monotonic() - g.get("started", time.monotonic())
        method = request.method if request.method in _METHODS else "other"  # any token is a method to HTTP
        metrics.request_answered(method, rule, response.status_code, seconds)
        # Unmatched requests have no route to name: their path says what was asked (capped).
        where = {"path": request.path[:200]} if request.url_rule is None else {}
        access.info("request", extra={"method": request.method, "route": rule, **where,
                                      "status": response.status_code, "ms": round(seconds * 1000, 1)})
        return response

    @app.teardown_request
    def _forget(_exc):
        # Threads are reused: the next request's server log lines must not carry this id.
        # Streamed answers push the request context again, so this can run twice: reset once.
        close_spooled()
        secrets_token = g.pop("request_secrets_token", None)
        if secrets_token is not None:
            request_secrets.reset(secrets_token)
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id.reset(token)

    return app
