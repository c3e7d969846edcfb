# jimeng-api: gunicorn (gevent workers) + Debian's Chromium for the browser transport.
# Build: docker build -t jimeng-api .   Run behind nginx: compose.yaml (make deploy-check drives both).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian's Chromium (the headless shell first, see app/jimeng/browser/executable.py); tini reaps the
# browser process the workers start, so no zombie outlives a restart.
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium-headless-shell chromium tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /srv/jimeng-api
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY app ./app
COPY deploy ./deploy
COPY config.py wsgi.py gunicorn.conf.py ./

RUN useradd --system --uid 10001 --home-dir /srv/jimeng-api jimeng
# The workers' shared state (an SQLite file: Idempotency-Key markers, the account pool's counts, HD
# links) and the webhook engine's queue: the service user's own directory, a volume (compose.yaml
# names it) so a restart keeps it.
ENV DATA_DIR=/var/lib/jimeng-api
RUN install -d -o jimeng -g jimeng -m 0700 /var/lib/jimeng-api
VOLUME /var/lib/jimeng-api
USER jimeng

# Inside a container network: listen on all interfaces, trust X-Forwarded-* from the nginx container.
# Workers share their metrics through PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py empties it at start).
ENV BIND=0.0.0.0:8000 FORWARDED_ALLOW_IPS=* PROMETHEUS_MULTIPROC_DIR=/tmp/jimeng-api-metrics
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["tini", "--"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
