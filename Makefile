# Everything installs what it needs itself: `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Where `make serve`, `make sandbox` and `make try` listen (loopback).
PORT ?= 8000
SANDBOX_PORT ?= 8701

.PHONY: install system-deps test test-fast demo try drill bench serve sandbox deploy-check clean

# Real parts, really started: Chromium (browser transport; the headless shell is the lean build it
# prefers), nginx, Redis and wrk come from Debian, and curl (the docs' examples are curl commands).
# The machines are Debian and we are root; install what is missing, never skip a test for it.
SYSTEM_DEPS := chromium:chromium chromium-headless-shell:chromium-headless-shell nginx:nginx redis-server:redis-server wrk:wrk curl:curl

# The checkout itself is installed (editable, no dependencies of its own) for the `jimeng-api` command.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

## make system-deps: the Debian packages the tests and the bench drive (installed only when missing)
system-deps:
	@missing=""; for pair in $(SYSTEM_DEPS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

## make test: the whole suite (unit, API, sandbox, end-to-end under gunicorn)
test: $(STAMP) system-deps
	$(PY) -m pytest -q

## make test-fast: everything but the end-to-end tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

## make demo: sandbox + service + a client following a video to the end
demo: $(STAMP)
	$(PY) -m sandbox.demo

## make drill: Jimeng moves (SANDBOX_DRIFT, default da_version=3.3.31): submits fail, /healthz says degraded,
## the doctor and a HAR recorded by Chromium name the setting, a restart with it makes submits pass again
drill: $(STAMP) system-deps
	$(PY) -m sandbox.drill

## make bench: the service against calling Jimeng directly, 200 ms upstream: wrk poller storms on
## tasks in progress, finished videos and a mix (throughput, p99, upstream calls per poll, errors,
## memory), the latency one query or a batch adds, the shared state's cost per operation, the
## browser transport's cost, the upstream calls spent watching 100 webhook tasks and their events'
## delay; each figure beside its target
bench: $(STAMP) system-deps
	$(PY) -m bench.bench_load
	$(PY) -m bench.bench_tasks --latency-ms 200 --singles 100 --batches 20
	$(PY) -m bench.bench_state
	$(PY) -m bench.bench_browser
	$(PY) -m bench.bench_webhooks --tasks 100

## make try: the sandbox and the service wired together for trying by hand (prints a URL and a token)
try: $(STAMP)
	$(PY) -m sandbox.try_it --port $(PORT) --sandbox-port $(SANDBOX_PORT)

## make serve: the service alone under gunicorn on 127.0.0.1:$(PORT), talking to the real Jimeng
## (JIMENG_UPSTREAM_URL=http://127.0.0.1:8701 ALLOW_LOOPBACK_MEDIA=1 for a sandbox: or use make try)
serve: $(STAMP)
	@$(PY) -c 'import sys; from sandbox.stack import require_free_port; require_free_port($(PORT), "PORT")'
	APP_ENV=$${APP_ENV:-development} $(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app --bind 127.0.0.1:$(PORT)

## make sandbox: the fake Jimeng alone on 127.0.0.1:$(SANDBOX_PORT)
sandbox: $(STAMP)
	$(PY) -m sandbox --host 127.0.0.1 --port $(SANDBOX_PORT)

## make deploy-check: build the image, run compose.yaml (nginx in front) and query it; skipped without Docker
deploy-check: $(STAMP)
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
	  echo "deploy-check: skipped, no Docker engine on this machine (the nginx e2e in make test runs deploy/nginx.conf)"; \
	  exit 0; fi; \
	set -e; project=jimeng-deploy-check-$$$$; \
	export SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_hex(16))'); \
	export JIMENG_PORT=$$($(PY) -c 'from sandbox.stack import free_ports; print(free_ports(1)[0])'); \
	trap 'docker compose -p '$$project' down -v --remove-orphans' EXIT; \
	docker compose -p $$project up -d --build --wait; \
	base=http://127.0.0.1:$$JIMENG_PORT; \
	curl -fsS $$base/healthz; echo; \
	curl -fsS $$base/v1/models -o /dev/null; \
	curl -fsS $$base/metrics | grep -q jimeng_api_requests_total; \
	curl -sS -o /dev/null -w '%{http_code} %{content_type}\n' -X POST -H 'Content-Length: 99999999999' $$base/v1/videos/generations \
	  | grep -q '^413 application/json'; \
	echo "deploy-check: image, compose stack, nginx and metrics answered"

clean:
	rm -rf $(VENV) .pytest_cache out
