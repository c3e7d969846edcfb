"""Service configuration, read from the environment (see README "Configuration").

One class per environment; `create_app` picks one by `APP_ENV` unless it is given a config.
Every value can be overridden by an environment variable of the same name.
"""
from __future__ import annotations

import os
import tempfile


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise RuntimeError(f"environment variable {name} must be a number, got {raw!r}") from exc


def max_request_mb(max_upload_mb: int) -> int:
    """The whole-request cap: the most files a mode takes (omni: 12) at MAX_UPLOAD_MB each, plus the form.
    The app enforces it and deploy/nginx.conf is rendered with it, so both refuse at the same size."""
    return max_upload_mb * 12 + 1


def _aliases(raw: str) -> dict[str, str]:
    """"a=b,c=d" -> {"a": "b", "c": "d"}."""
    pairs = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        name, sep, target = part.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise RuntimeError(f"OPENAI_MODEL_ALIASES entries look like name=target, got {part.strip()!r}")
        pairs[name.strip()] = target.strip()
    return pairs


class Config:
    """Production defaults. SECRET_KEY must come from the environment."""

    ENV_NAME = "production"
    TESTING = False

    def __init__(self) -> None:
        # Read at instantiation, not import, so tests and workers see the environment they run in.
        self.SECRET_KEY = os.environ.get("SECRET_KEY", "")
        # One base URL that replaces every upstream host (main, commerce, ImageX, VOD, upload nodes).
        self.JIMENG_UPSTREAM_URL = os.environ.get("JIMENG_UPSTREAM_URL", "").rstrip("/")
        self.JIMENG_TIMEOUT = _float("JIMENG_TIMEOUT", 45.0)
        self.JIMENG_CONNECT_TIMEOUT = _float("JIMENG_CONNECT_TIMEOUT", 5.0)
        # Upstream connections kept per host and worker; gunicorn.conf.py sets it to the worker's concurrency.
        self.UPSTREAM_POOL_SIZE = _int("UPSTREAM_POOL_SIZE", 32)
        # The proxy for upstream calls of tokens without their own (HTTP(S)_PROXY variables are not read).
        self.UPSTREAM_PROXY = os.environ.get("UPSTREAM_PROXY", "")
        self.VIDEO_TASK_TIMEOUT = _int("VIDEO_TASK_TIMEOUT", 4 * 3600)
        self.IMAGE_TASK_TIMEOUT = _int("IMAGE_TASK_TIMEOUT", 3600)
        # A task's progress runs along a curve paced by the typical time from submit to end (about
        # 63% at this many seconds), the same on every worker; Jimeng's own forecasts change between
        # polls and would make it jump back. Tune to your queue; the demo's sandbox ends in seconds.
        self.VIDEO_PROGRESS_SECONDS = _int("VIDEO_PROGRESS_SECONDS", 300)
        self.IMAGE_PROGRESS_SECONDS = _int("IMAGE_PROGRESS_SECONDS", 60)
        # How long after submit a record missing from Jimeng's history still counts as pending.
        self.HISTORY_GRACE_SECONDS = _int("HISTORY_GRACE_SECONDS", 600)
        self.MAX_BATCH_SIZE = _int("MAX_BATCH_SIZE", 100)
        self.MAX_UPLOAD_MB = _int("MAX_UPLOAD_MB", 100)
        # Longest prompt (characters), per prompt: the protocol documents no limit of Jimeng's own.
        self.MAX_PROMPT_CHARS = _int("MAX_PROMPT_CHARS", 2000)
        self.FETCH_TIMEOUT = _float("FETCH_TIMEOUT", 30.0)
        # Blocking mode (`wait: true`): total wait, poll interval and how many may wait at once.
        self.WAIT_TIMEOUT = _int("WAIT_TIMEOUT", 900)
        # The images answer (OpenAI's shape) waits at most this long (and never past WAIT_TIMEOUT): under the
        # OpenAI SDK's 600 s read timeout, so the SDK gets the 504 naming the task rather than retrying blind.
        self.IMAGE_WAIT_TIMEOUT = _int("IMAGE_WAIT_TIMEOUT", 540)
        self.WAIT_POLL_SECONDS = _float("WAIT_POLL_SECONDS", 10.0)
        self.MAX_WAITERS = _int("MAX_WAITERS", 8)
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
        # When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`.
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "json").lower()
        # The browser transport (README "Browser transport"): which generate calls go through a real
        # Chromium page, which browser, where workers reach it, and its limits.
        self.BROWSER_TRANSPORT = os.environ.get("BROWSER_TRANSPORT", "auto").strip().lower() or "auto"
        self.BROWSER_EXECUTABLE = os.environ.get("BROWSER_EXECUTABLE", "").strip()
        self.BROWSER_SOCKET = os.environ.get("BROWSER_SOCKET", "").strip()
        self.BROWSER_PAGE_PATH = os.environ.get("BROWSER_PAGE_PATH", "/ai-tool/video/generate").strip()
        self.BROWSER_MAX_QUEUE = _int("BROWSER_MAX_QUEUE", 32)
        self.BROWSER_TIMEOUT = _float("BROWSER_TIMEOUT", 60.0)
        self.BROWSER_READY_TIMEOUT = _float("BROWSER_READY_TIMEOUT", 20.0)
        self.BROWSER_IDLE_SECONDS = _float("BROWSER_IDLE_SECONDS", 300.0)
        # OpenAI's video routes: model aliases ("sora-2=default,sora-2-pro=jimeng-video-3.0"; "default" is
        # the region's default video model). Empty: off, only our model names are accepted.
        self.OPENAI_MODEL_ALIASES = _aliases(os.environ.get("OPENAI_MODEL_ALIASES", ""))
        # `openai-poll-after-ms` on unfinished video objects: how soon the SDK's poll loop asks again.
        self.VIDEO_POLL_AFTER_MS = _int("VIDEO_POLL_AFTER_MS", 5000)
        # Proxies a token may name (`http://host:port@sessionid`): host names or CIDRs, comma separated.
        # Empty (the default): a proxy prefix is refused. See README "Token proxies".
        self.TOKEN_PROXY_ALLOWLIST = os.environ.get("TOKEN_PROXY_ALLOWLIST", "")
        # Jimeng's live video catalogue (get_common_config) per account, cached this many seconds.
        self.LIVE_CATALOGUE = os.environ.get("LIVE_CATALOGUE", "1").strip() != "0"
        self.CATALOGUE_TTL = _float("CATALOGUE_TTL", 300.0)
        # Company mode (README "Company deployment"): API keys for clients, a server-held account pool.
        self.API_KEYS_FILE = os.environ.get("API_KEYS_FILE", "")
        self.JIMENG_ACCOUNTS_FILE = os.environ.get("JIMENG_ACCOUNTS_FILE", "")
        self.ALLOW_CLIENT_TOKENS = os.environ.get("ALLOW_CLIENT_TOKENS", "") == "1"
        # Where the service keeps what its workers share (SQLite: Idempotency-Key markers, the account
        # pool's counts, rate counters, HD links) and what a restart must not lose (the webhook engine's
        # queue). Relative to the working directory; created at start with mode 0700. REDIS_URL replaces
        # both (several hosts).
        self.DATA_DIR = os.path.abspath(os.environ.get("DATA_DIR", "").strip() or "var")
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.POOL_FAILOVER = os.environ.get("POOL_FAILOVER", "") == "1"
        self.POOL_COOLDOWN_SECONDS = _float("POOL_COOLDOWN_SECONDS", 600.0)
        self.POOL_BUSY_COOLDOWN_SECONDS = _float("POOL_BUSY_COOLDOWN_SECONDS", 60.0)
        self.POOL_CREDITS_TTL = _float("POOL_CREDITS_TTL", 300.0)
        # The doctor (README "When Jimeng changes"): its probes' total deadline, and when /healthz says
        # the upstream is degraded (this many refusals as outdated within the window, in seconds).
        self.DOCTOR_TIMEOUT = _float("DOCTOR_TIMEOUT", 20.0)
        self.UPSTREAM_DEGRADED_AFTER = _int("UPSTREAM_DEGRADED_AFTER", 3)
        self.UPSTREAM_DEGRADED_WINDOW = _int("UPSTREAM_DEGRADED_WINDOW", 300)
        # Testing only: allow media URLs on loopback (the sandbox serves test media there).
        self.ALLOW_LOOPBACK_MEDIA = os.environ.get("ALLOW_LOOPBACK_MEDIA", "") == "1"
        # Webhooks (README "Webhooks"): the Standard Webhooks secret (whsec_...), whether the gunicorn
        # master runs a consumer (0 on hosts whose consumers run apart), its threads, and the pace.
        self.WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "").strip()
        self.WEBHOOK_CONSUMER = os.environ.get("WEBHOOK_CONSUMER", "1").strip() != "0"
        self.WEBHOOK_CONSUMER_WORKERS = _int("WEBHOOK_CONSUMER_WORKERS", 8)
        # Testing and the demo only: webhook targets on loopback.
        self.ALLOW_LOOPBACK_WEBHOOKS = os.environ.get("ALLOW_LOOPBACK_WEBHOOKS", "") == "1"
        # One delivery attempt in all: connecting, sending and the answer's head (app/webhooks/attempts.py).
        self.WEBHOOK_TIMEOUT = _float("WEBHOOK_TIMEOUT", 10.0)
        # Watching: an account's tasks are read at Jimeng's suggested pace, held between these bounds.
        self.WEBHOOK_POLL_MIN_SECONDS = _float("WEBHOOK_POLL_MIN_SECONDS", 2.0)
        self.WEBHOOK_POLL_MAX_SECONDS = _float("WEBHOOK_POLL_MAX_SECONDS", 10.0)
        # Retries: the first wait, and how long a failing receiver is retried before gave_up.
        self.WEBHOOK_RETRY_BASE_SECONDS = _float("WEBHOOK_RETRY_BASE_SECONDS", 5.0)
        self.WEBHOOK_RETRY_HOURS = _float("WEBHOOK_RETRY_HOURS", 25.0)
        # How long a poll or a delivery attempt holds its claim: a crashed consumer's work is taken
        # up again this long after it began.
        self.WEBHOOK_LEASE_SECONDS = _float("WEBHOOK_LEASE_SECONDS", 120.0)

    def validate(self) -> list[str]:
        """Problems that make this configuration unfit to serve; `/healthz` reports them."""
        problems = []
        if len(self.SECRET_KEY) < 16:
            problems.append("SECRET_KEY must be set to at least 16 characters")
        if self.LOG_FORMAT not in ("json", "text"):
            problems.append("LOG_FORMAT must be 'json' or 'text'")
        if not 1 <= self.MAX_BATCH_SIZE <= 1000:
            problems.append("MAX_BATCH_SIZE must be between 1 and 1000")
        from app.jimeng.models import IMAGE_MODELS, VIDEO_MODELS
        for name, target in self.OPENAI_MODEL_ALIASES.items():
            if target != "default" and target not in VIDEO_MODELS and target not in IMAGE_MODELS:
                problems.append(f"OPENAI_MODEL_ALIASES maps {name} to unknown model {target}")
        try:
            from app.net.proxies import ProxyAllowlist
            ProxyAllowlist.parse(self.TOKEN_PROXY_ALLOWLIST)
        except ValueError as exc:
            problems.append(str(exc))
        if self.WEBHOOK_SECRET:
            from app.webhooks.signing import secret_problem
            problem = secret_problem(self.WEBHOOK_SECRET, "WEBHOOK_SECRET")
            if problem:
                problems.append(problem)
        if not 0 < self.WEBHOOK_POLL_MIN_SECONDS <= self.WEBHOOK_POLL_MAX_SECONDS:
            problems.append("WEBHOOK_POLL_MIN_SECONDS must be positive and at most WEBHOOK_POLL_MAX_SECONDS")
        if self.WEBHOOK_TIMEOUT <= 0 or self.WEBHOOK_RETRY_BASE_SECONDS <= 0 or self.WEBHOOK_LEASE_SECONDS <= 0:
            problems.append("the WEBHOOK_ timeouts and intervals must be positive")
        elif self.WEBHOOK_LEASE_SECONDS < 2 * self.WEBHOOK_TIMEOUT:
            problems.append("WEBHOOK_LEASE_SECONDS must be at least twice WEBHOOK_TIMEOUT (a delivery's claim "
                            "must outlive its attempt; the engine holds it that long anyway)")
        if self.WEBHOOK_RETRY_HOURS < 24:
            problems.append("WEBHOOK_RETRY_HOURS must be at least 24 (receivers are promised a day of retries)")
        if self.JIMENG_TIMEOUT <= 0 or self.WAIT_TIMEOUT <= 0 or self.IMAGE_WAIT_TIMEOUT <= 0:
            problems.append("timeouts must be positive")
        if self.VIDEO_PROGRESS_SECONDS <= 0 or self.IMAGE_PROGRESS_SECONDS <= 0:
            problems.append("VIDEO_PROGRESS_SECONDS and IMAGE_PROGRESS_SECONDS must be positive")
        if self.BROWSER_TRANSPORT not in ("auto", "always", "off"):
            problems.append("BROWSER_TRANSPORT must be auto, always or off")
        if self.BROWSER_MAX_QUEUE < 1 or self.BROWSER_TIMEOUT <= 0 or self.BROWSER_READY_TIMEOUT <= 0:
            problems.append("BROWSER_MAX_QUEUE and the BROWSER_* timeouts must be positive")
        if not self.BROWSER_PAGE_PATH.startswith("/"):
            problems.append("BROWSER_PAGE_PATH must start with /")
        if self.DOCTOR_TIMEOUT <= 0 or self.UPSTREAM_DEGRADED_AFTER < 1 or self.UPSTREAM_DEGRADED_WINDOW < 1:
            problems.append("DOCTOR_TIMEOUT, UPSTREAM_DEGRADED_AFTER and UPSTREAM_DEGRADED_WINDOW must be positive")
        if self.CATALOGUE_TTL <= 0:
            problems.append("CATALOGUE_TTL must be positive")
        if bool(self.API_KEYS_FILE) != bool(self.JIMENG_ACCOUNTS_FILE):
            problems.append("company mode needs both API_KEYS_FILE and JIMENG_ACCOUNTS_FILE")
        if min(self.POOL_COOLDOWN_SECONDS, self.POOL_BUSY_COOLDOWN_SECONDS, self.POOL_CREDITS_TTL) < 0:
            problems.append("POOL_* durations must not be negative")
        return problems

    def task_timing(self) -> dict:
        """TaskSettings' per-kind timeouts and progress paces: the same for queries and webhooks."""
        return {"timeouts": {"video": self.VIDEO_TASK_TIMEOUT, "image": self.IMAGE_TASK_TIMEOUT},
                "paces": {"video": self.VIDEO_PROGRESS_SECONDS, "image": self.IMAGE_PROGRESS_SECONDS}}

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in dir(self) if k.isupper()}


class DevelopmentConfig(Config):
    """Local runs and the demo: a fixed, clearly marked dev secret and readable logs."""

    ENV_NAME = "development"

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = self.SECRET_KEY or "development-only-secret-key-change-me"
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").lower()


class TestingConfig(DevelopmentConfig):
    """pytest: short timeouts, no waiting between polls."""

    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "testing-secret-key-0123456789abcdef"
        self.JIMENG_UPSTREAM_URL = ""
        # Never the checkout's var/: the test's own DATA_DIR (tests/conftest.py sets one per test), else
        # a scratch directory per test process.
        self.DATA_DIR = os.path.abspath(os.environ.get("DATA_DIR", "").strip() or os.path.join(
            tempfile.gettempdir(), f"jimeng-api-tests-{os.getpid()}"))
        self.JIMENG_TIMEOUT = 5.0
        self.WAIT_POLL_SECONDS = 0.0
        self.WAIT_TIMEOUT = 5
        # Tests mock Jimeng at the HTTP boundary; the browser tests turn the transport on themselves.
        self.BROWSER_TRANSPORT = "off"
        # Tests that mock Jimeng call by call turn the live catalogue on where they test it.
        self.LIVE_CATALOGUE = False


CONFIGS = {"production": Config, "development": DevelopmentConfig, "testing": TestingConfig}


def load_config(env_name: str | None = None) -> Config:
    """The config object for `APP_ENV` (default production)."""
    name = (env_name or os.environ.get("APP_ENV") or "production").lower()
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}")
    return CONFIGS[name]()
