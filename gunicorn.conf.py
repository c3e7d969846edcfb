"""gunicorn settings. Every value can be overridden from the environment; `--bind` on the command line wins."""
import os
import shutil
import sys
import tempfile

from app.logs import default_log_format, logging_config

# Where to listen (a --bind given on the command line replaces this).
bind = os.environ.get("BIND", "127.0.0.1:8000")
# Worker model, chosen by measurement (`make bench`: wrk pollers against a 200 ms upstream, 2 cores):
# nearly every request waits on Jimeng, so what counts is how cheaply a worker holds many waits.
# gthread holds one OS thread per in-flight request: 16 threads cap a worker at 16 waits (256 pollers
# queued behind 32 slots, p99 over 2 s), and 128 threads pay thread switching and GIL contention.
# gevent holds a greenlet per request: ~1000 waits per worker for a few KB each, and slow clients or
# blocking-mode waiters hold greenlets, not the slots pollers need. Measured on the same busy machine,
# gevent answered 476 req/s at 256 pollers against 316 for gthread x128 and 142 for gthread x16.
# Nothing here is CPU-bound for long (media checks are milliseconds; Chromium runs in its own process).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")


def _pool_in_memory() -> bool:
    """Company mode without REDIS_URL: the account pool counts in each worker's own memory."""
    return bool(os.environ.get("JIMENG_ACCOUNTS_FILE")) and not os.environ.get("REDIS_URL")


# One worker per core, plus one: past the waits, requests are CPU (the GIL). Pollers move in waves
# (their answers come back from Jimeng together), and a worker answers its share of a wave one
# request after another; one worker more than cores cuts each share while the cores stay busy.
# Measured (`make bench`, 2 cores, 256 pollers): 2 workers 0.87-0.89x direct throughput, 3 workers
# 0.98x, 4 workers 0.92x (memory: about 60 MB a worker). Except for an account pool kept in memory:
# there each worker would count running tasks, cooldowns and balances alone, and together they
# would pass every account's max_parallel; one worker is then the default, and more are refused at start.
workers = int(os.environ.get("WEB_CONCURRENCY", 1 if _pool_in_memory() else (os.cpu_count() or 1) + 1))
# gthread only: in-flight requests per worker.
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# gevent only: in-flight requests (and open client connections) per worker.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# One upstream connection per request a worker can have in flight: no "pool is full" churn.
os.environ.setdefault("UPSTREAM_POOL_SIZE", str(worker_connections if "gevent" in worker_class else threads))
# The slowest route is the blocking mode: WAIT_TIMEOUT plus upload and generate time. gthread's worker
# timeout is a heartbeat of the main loop, but keep it above the longest request anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", str(int(os.environ.get("WAIT_TIMEOUT", "900")) + 120)))
# On restart or recycling (max_requests) a worker finishes what it serves: blocking waits included.
graceful_timeout = timeout
# nginx in front keeps connections open; idle keep-alive a little longer than nginx's upstream keepalive.
keepalive = 75
# Recycle workers now and then to bound any slow leak, with jitter so they do not restart together.
# A new worker costs about 0.5 s of CPU to import the app: at 5000 requests that was a restart every
# few seconds under a poller storm (9% of the CPU); 50000 is about a minute of full load per worker.
max_requests = 50000
max_requests_jitter = 5000
# GET /v1/videos/tasks?ids= with 100 ids of ~63 characters needs ~6.6 KB of request line.
limit_request_line = 8190
# Trust X-Forwarded-* only from the local nginx.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Structured logs through the app's own config: request ids, tokens redacted.
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper(),
                                os.environ.get("LOG_FORMAT", default_log_format(os.environ.get("APP_ENV"))).lower())
accesslog = None
# gunicorn 27 opens a control socket at one path per user; several instances on a host would share it.
control_socket_disable = True


# Metrics across workers: prometheus_client's multiprocess mode needs a directory shared by the
# workers and empty at start (stale files would add a previous run's counts). Set before any worker
# imports prometheus_client; an operator's PROMETHEUS_MULTIPROC_DIR is used (and emptied) as given.
# gunicorn runs this file again on every HUP, in the same master: a reload must neither empty the
# directory (the old workers, still draining, and the new ones keep counting into it) nor mistake
# the directory made at the first load for the operator's. Hence the emptying in on_starting (once
# per master), and JIMENG_OWN_METRICS_DIR remembering which directory is ours to remove.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="jimeng-api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["JIMENG_OWN_METRICS_DIR"] = _metrics_dir
_own_metrics_dir = os.environ.get("JIMENG_OWN_METRICS_DIR") == _metrics_dir
os.makedirs(_metrics_dir, exist_ok=True)


def on_starting(server):
    """Once per master, before the first worker: the worker count is checked, a previous run's metric files go."""
    _check_workers_for_the_pool(server)
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


def _check_workers_for_the_pool(server):
    """Refuse several workers over an in-memory account pool (`--workers` included); say why one was chosen."""
    if not _pool_in_memory():
        if server.cfg.workers > 1 and not os.environ.get("REDIS_URL"):
            server.log.warning(
                "%d workers without REDIS_URL: each keeps its own Idempotency-Key markers, so a repeat that "
                "lands on another worker before Jimeng lists the first task is not recognised (a client "
                "that says it retries still is). Set REDIS_URL if clients send Idempotency-Key.",
                server.cfg.workers)
        return
    if server.cfg.workers > 1:
        server.log.error(
            "refusing to start: company mode (JIMENG_ACCOUNTS_FILE) keeps the account pool in each "
            "worker's memory when REDIS_URL is empty, so %d workers would each count an account's "
            "running tasks alone and together exceed its max_parallel. Set REDIS_URL to share the "
            "pool between workers, or run one worker (WEB_CONCURRENCY=1, --workers 1).", server.cfg.workers)
        if _own_metrics_dir:
            shutil.rmtree(_metrics_dir, ignore_errors=True)    # on_exit does not run after this
        sys.exit(1)
    if "WEB_CONCURRENCY" not in os.environ:
        server.log.info("one worker: the account pool lives in process memory (REDIS_URL is empty); "
                        "set REDIS_URL to run more")


def child_exit(server, worker):
    """A dead worker's live gauges must not be reported; its counters stay in the sums."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    _stop_webhook_consumer()
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)


# -- Webhooks (README "Webhooks") ----------------------------------------------------------------
# The master runs the webhook engine's consumer beside the workers, through a small supervisor
# process that restarts it if it dies (app/webhooks/supervisor.py), so this command alone delivers
# webhooks on one host. WEBHOOK_CONSUMER=0: the consumers run apart (`jimeng-api-consumer` on hosts
# sharing REDIS_URL). Nothing of webhooks is per worker: their
# records live in the engine's store (SQLite under DATA_DIR, or Redis), shared by every process.

def when_ready(server):
    """The master listens and has forked no worker yet: start its webhook consumer (its supervisor)."""
    from app.webhooks import supervisor
    supervisor.start(server.log)


def _stop_webhook_consumer():
    from app.webhooks import supervisor
    supervisor.stop()
