"""gunicorn settings. Every value can be overridden from the environment; `--bind` on the command line wins."""
import os
import shutil
import tempfile

from app.serving.logs import default_log_format, logging_config

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
# Our subclass of gunicorn's gevent worker adds what it lacks without nginx in front: timers on idle
# connections, request heads and bodies, and unread answers; room for new clients when idle ones
# pile up; a stop in seconds (app/serving/gevent_worker.py says why each one).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "app.serving.gevent_worker.GeventWorker")
_gevent = "gevent" in worker_class


# One worker per core, plus one: past the waits, requests are CPU (the GIL). Pollers move in waves
# (their answers come back from Jimeng together), and a worker answers its share of a wave one
# request after another; one worker more than cores cuts each share while the cores stay busy.
# Measured (`make bench`, 2 cores, 256 pollers): 2 workers 0.87-0.89x direct throughput, 3 workers
# 0.98x, 4 workers 0.92x (memory: about 60 MB a worker). What the workers must agree on (Idempotency-Key
# markers, the account pool's counts, rate limits) is in the shared state: the host's SQLite store
# under DATA_DIR, or Redis; nothing a client is promised is kept per worker.
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
# gthread only: in-flight requests per worker.
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# gevent only: open client connections per worker, in flight or idle. Past 90% of them, the worker
# closes the connections idle the longest, so new clients find room while idle ones pile up.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
# One upstream connection per request a worker can have in flight: no "pool is full" churn.
os.environ.setdefault("UPSTREAM_POOL_SIZE", str(worker_connections if _gevent else threads))
# A gevent worker's timeout is a heartbeat: its main greenlet reports every second unless something
# blocks the whole process, and then the master replaces it after this long (it used to be the
# blocking-mode wait, 17 minutes of a frozen worker). gthread's is a heartbeat of its main loop too,
# but keep it above the longest request there anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30" if _gevent else
                             str(int(os.environ.get("WAIT_TIMEOUT", "900")) + 120)))
# On a stop (SIGTERM, HUP, max_requests) a worker finishes its submits in flight: fetching and
# uploading the media, then the generate, which may go through the browser (BROWSER_TIMEOUT +
# BROWSER_READY_TIMEOUT). Seconds for most, a few minutes for a dozen large files. Nothing else
# holds a stop: idle connections close at once and blocking-mode waits answer at once with their
# task (app/serving/gevent_worker.py), so this is not the blocking-mode wait.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "300"))
# Idle time allowed between two requests of a connection. Above the pollers' usual 5-10 s interval
# (the OpenAI SDK's poll-after, the CLI's), and above deploy/nginx.conf's upstream keepalive_timeout,
# so that nginx, not gunicorn, closes the idle connections it keeps (no request sent on one just closed).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "15"))
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
# gunicorn would build its access line for every request and drop it (its logger is at WARNING above).
logger_class = "app.serving.access_log.AccessAwareLogger"
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
    """Once per master, before the first worker: a previous run's metric files go."""
    for name in os.listdir(_metrics_dir):
        if name.endswith(".db"):
            os.remove(os.path.join(_metrics_dir, name))


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
