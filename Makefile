# Everything installs what it needs itself: `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test test-fast demo bench serve sandbox clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make test: the whole suite (unit, API, sandbox, end-to-end under gunicorn)
test: $(STAMP)
	$(PY) -m pytest -q

## make test-fast: everything but the end-to-end tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

## make demo: sandbox + service + a client following a video to the end
demo: $(STAMP)
	$(PY) -m sandbox.demo

## make bench: added latency of the service over calling Jimeng (the sandbox) directly
bench: $(STAMP)
	$(PY) -m bench.bench_tasks

## make serve: the service under gunicorn on 127.0.0.1:8000 (set JIMENG_UPSTREAM_URL for the sandbox)
serve: $(STAMP)
	APP_ENV=$${APP_ENV:-development} $(VENV)/bin/gunicorn -c gunicorn.conf.py wsgi:app

## make sandbox: the fake Jimeng on 127.0.0.1:8701
sandbox: $(STAMP)
	$(PY) -m sandbox --host 127.0.0.1 --port 8701

clean:
	rm -rf $(VENV) .pytest_cache out
