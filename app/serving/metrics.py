"""Prometheus metrics: the one place the service counts things (`/metrics` exposes them).

Every label value comes from a fixed set (route rules, upstream paths, model names, statuses),
never from raw request data, so a client cannot grow the series without bound.

Under gunicorn each worker is its own process: gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR
at a fresh directory before the workers start, prometheus_client then writes each worker's values
there, and `render()` adds them up. Without that variable (tests, `flask run`) the values live in
this process. Free of Flask: the jimeng layer counts its calls here too.
"""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY, multiprocess

# Most answers come within a few upstream round trips; blocking mode can take minutes.
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)
_UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUESTS = Counter("jimeng_api_requests_total", "HTTP requests answered, by route rule and status",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("jimeng_api_request_duration_seconds", "Time to answer a request, by route rule",
                            ["method", "route"], buckets=_REQUEST_BUCKETS)
UPSTREAM_CALLS = Counter("jimeng_api_upstream_calls_total", "Calls to Jimeng, by endpoint path and outcome",
                         ["endpoint", "outcome"])
UPSTREAM_SECONDS = Histogram("jimeng_api_upstream_duration_seconds", "Time of one call to Jimeng, by endpoint",
                             ["endpoint"], buckets=_UPSTREAM_BUCKETS)
SUBMITS = Counter("jimeng_api_submits_total", "Tasks Jimeng accepted, by kind, model and mode",
                  ["kind", "model", "mode"])
TASK_STATES = Counter("jimeng_api_task_states_total", "Task states answered to clients, by kind and status",
                      ["kind", "status"])
BROWSER_TRANSPORT = Counter("jimeng_api_browser_transport_total",
                            "Upstream calls sent through the browser transport, by endpoint and outcome",
                            ["endpoint", "outcome"])
UPSTREAM_REFUSALS = Counter("jimeng_api_upstream_refusals_total",
                            "Calls Jimeng refused as outdated (ret 3018, invalid parameter), by call name and reason",
                            ["call", "reason"])

# Company mode: per pool account, by its label (from the operator's file, never a session id).
POOL_SUBMITS = Counter("jimeng_api_pool_submits_total",
                       "Submits the account pool sent to an account, by outcome (accepted or the error code)",
                       ["account", "outcome"])
POOL_COOLDOWNS = Counter("jimeng_api_pool_cooldowns_total", "Times a pool account was cooled down, by error code",
                         ["account", "reason"])

# Per pool account, set from the shared state just before a scrape renders them. The value belongs to
# the account, not to the worker that read it: across workers the most recently set value is the
# truth (an earlier read by another worker, even one since recycled, is only older).
POOL_RUNNING = Gauge("jimeng_api_pool_running_tasks", "Tasks counted against a pool account's max_parallel",
                     ["account"], multiprocess_mode="mostrecent")
POOL_CREDITS = Gauge("jimeng_api_pool_credits", "A pool account's cached credit balance (absent until read)",
                     ["account"], multiprocess_mode="mostrecent")
POOL_COOLDOWN = Gauge("jimeng_api_pool_cooldown_seconds",
                      "Seconds until a pool account may take submits again (0: not cooling down)",
                      ["account"], multiprocess_mode="mostrecent")

# Webhooks (app/webhooks). Counted by the consumer process, summed with the workers' at a scrape; the
# backlog gauges are read from the engine's store just before a scrape (the store is shared, so the
# most recent reading is the truth).
WEBHOOK_DELIVERIES = Counter("jimeng_api_webhook_deliveries_total",
                             "Webhook events whose delivery ended, by event type and outcome (delivered, gave_up)",
                             ["event", "outcome"])
WEBHOOK_ATTEMPTS = Counter("jimeng_api_webhook_attempts_total",
                           "Webhook delivery attempts, by event type and result (2xx, 3xx, 4xx, 5xx, timeout, "
                           "connection_error, refused_address, no_secret, error)", ["event", "result"])
WEBHOOK_WATCHED = Gauge("jimeng_api_webhook_watched_tasks", "Tasks with a webhook whose end is awaited",
                        multiprocess_mode="mostrecent")
WEBHOOK_QUEUE = Gauge("jimeng_api_webhook_queue_depth", "Webhook events not yet delivered nor given up",
                      multiprocess_mode="mostrecent")
WEBHOOK_OLDEST = Gauge("jimeng_api_webhook_oldest_pending_seconds",
                       "Age of the oldest webhook event not yet delivered nor given up (0: none)",
                       multiprocess_mode="mostrecent")


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    """`route` is the URL rule (e.g. /v1/videos/tasks/<task_id>) or "unmatched", never the raw path."""
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


def upstream_call(endpoint: str, outcome: str, seconds: float) -> None:
    """`outcome`: ok, ret_error, rate_limited, unavailable, timeout or bad_answer. Direct calls and
    the browser transport's both count here."""
    UPSTREAM_CALLS.labels(endpoint, outcome).inc()
    UPSTREAM_SECONDS.labels(endpoint).observe(seconds)


def upstream_refused(call: str, reason: str) -> None:
    """Jimeng refused our request as outdated: `call` a name of app/jimeng/calls.py (or "other"),
    `reason` "protocol" (ret 3018) or "invalid_parameter". The doctor's degraded signal."""
    UPSTREAM_REFUSALS.labels(call, reason).inc()


def submitted(kind: str, model: str, mode: str) -> None:
    SUBMITS.labels(kind, model, mode).inc()


def task_state_seen(kind: str, status: str) -> None:
    TASK_STATES.labels(kind, status).inc()


def browser_transport_used(endpoint: str, outcome: str) -> None:
    """For the browser transport: one call it carried, also counted by `upstream_call` (its time
    is there). `outcome` as there; unavailable includes no usable browser."""
    BROWSER_TRANSPORT.labels(endpoint, outcome).inc()


def pool_submit(account: str, outcome: str) -> None:
    """`outcome`: accepted, maybe_created (the answer was lost), or the refusal's error code."""
    POOL_SUBMITS.labels(account, outcome).inc()


def pool_cooldown(account: str, reason: str) -> None:
    POOL_COOLDOWNS.labels(account, reason).inc()


def render() -> tuple[bytes, str]:
    """The exposition text of every worker (multiprocess mode) or of this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def pool_account(account: str, running: int, credits: int | None, cooldown_seconds: float) -> None:
    """One pool account's state as the shared state has it now (`account` is its label)."""
    POOL_RUNNING.labels(account).set(running)
    if credits is not None:
        POOL_CREDITS.labels(account).set(credits)
    POOL_COOLDOWN.labels(account).set(cooldown_seconds)


def webhook_attempt(event: str, result: str) -> None:
    WEBHOOK_ATTEMPTS.labels(event, result).inc()


def webhook_ended(event: str, outcome: str) -> None:
    WEBHOOK_DELIVERIES.labels(event, outcome).inc()


def webhook_backlog(watched: int, pending: int, oldest_seconds: float) -> None:
    WEBHOOK_WATCHED.set(watched)
    WEBHOOK_QUEUE.set(pending)
    WEBHOOK_OLDEST.set(oldest_seconds)
