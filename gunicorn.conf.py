"""gunicorn settings. Every value can be overridden from the environment; `--bind` on the command line wins."""
import os

from app.logs import logging_config

# Where to listen (a --bind given on the command line replaces this).
bind = os.environ.get("BIND", "127.0.0.1:8000")
# gthread: the work is waiting on Jimeng and media hosts, not CPU; threads make waiting cheap,
# a worker per core keeps one slow request from holding the GIL for everyone.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
# In-flight requests per worker: async calls are short; blocking (`wait`) ones are capped by MAX_WAITERS.
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
# The slowest route is the blocking mode: WAIT_TIMEOUT plus upload and generate time. gthread's worker
# timeout is a heartbeat of the main loop, but keep it above the longest request anyway.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", str(int(os.environ.get("WAIT_TIMEOUT", "900")) + 120)))
# On restart or recycling (max_requests) a worker finishes what it serves: blocking waits included.
graceful_timeout = timeout
# nginx in front keeps connections open; idle keep-alive a little longer than nginx's upstream keepalive.
keepalive = 75
# Recycle workers now and then to bound any slow leak, with jitter so they do not restart together.
max_requests = 5000
max_requests_jitter = 500
# GET /v1/videos/tasks?ids= with 100 ids of ~63 characters needs ~6.6 KB of request line.
limit_request_line = 8190
# Trust X-Forwarded-* only from the local nginx.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Structured logs through the app's own config: request ids, tokens redacted.
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper(),
                                os.environ.get("LOG_FORMAT", "json").lower())
accesslog = None
# gunicorn 27 opens a control socket at one path per user; several instances on a host would share it.
control_socket_disable = True
