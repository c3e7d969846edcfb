"""/metrics under gunicorn with 2 workers: every scrape, whichever worker answers it, adds up both."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox.stack import running_stack
from tests.api.test_metrics import sample

pytestmark = pytest.mark.e2e
BURST = 40
MAX_BURSTS = 25


def test_counts_from_both_workers_add_up_in_every_scrape(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_1.db"
    stale.write_bytes(b"left from an earlier run")   # gunicorn.conf.py empties the directory at start
    with running_stack(service_env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, workers=2) as stack:
        def pings_counted() -> tuple[float, float]:
            text = requests.get(f"{stack.service_url}/metrics", timeout=10).text
            return (sample(text, "jimeng_api_requests_total", method="GET", route="/ping", status="200"),
                    sample(text, "jimeng_api_request_duration_seconds_count", method="GET", route="/ping"))

        sent, _ = pings_counted()   # the stack's own readiness probes went to /ping too

        def ping(_: int) -> int:
            # A new connection each: the kernel spreads them over both workers' accepts.
            return requests.get(f"{stack.service_url}/ping", timeout=10).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            for _ in range(MAX_BURSTS):
                assert set(pool.map(ping, range(BURST))) == {200}
                sent += BURST
                pids = {p.stem.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
                if len(pids) >= 2:
                    break
        assert len(pids) >= 2, "one worker served every request; cannot check the sum"
        assert not stale.exists()

        resp = requests.get(f"{stack.service_url}/metrics", timeout=10)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
        # Separate connections: each scrape may land on either worker, each sees both.
        assert {pings_counted() for _ in range(6)} == {(sent, sent)}
