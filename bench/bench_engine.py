"""The task engine alone (huey, as the webhook consumer runs it): how soon a queued job starts, on the
embedded SQLite storage and on Redis, and what a consumer process costs in memory. The figures
behind README "Webhooks" (why huey).

    python -m bench.bench_engine [--jobs 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time

import psutil

from tests.redis_server import running_redis


def measure(huey, jobs: int) -> list[float]:
    started: dict[int, float] = {}
    done = threading.Event()

    @huey.task(name="bench.noop")
    def noop(i: int, sent: float) -> None:
        started[i] = time.time() - sent
        if len(started) == jobs:
            done.set()

    consumer = huey.create_consumer(workers=8, worker_type="thread", initial_delay=0.1, backoff=1.5, max_delay=1.0,
                                    scheduler_interval=1, periodic=False)
    consumer.start()
    try:
        time.sleep(1.5)                     # idle first: the workers back off to their longest sleep
        for i in range(jobs):
            noop(i, time.time())
            time.sleep(0.01)
        done.wait(60)
    finally:
        consumer.stop(graceful=True)
    return sorted(started.values())


def report(name: str, latencies: list[float]) -> None:
    p95 = latencies[min(int(0.95 * len(latencies)), len(latencies) - 1)]
    print(f"  {name}: {len(latencies)} jobs, start latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")


def main() -> int:
    from huey import RedisHuey, SqliteHuey

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    print(f"engine: huey, {args.jobs} jobs queued 10 ms apart, 8 worker threads (the consumer's settings); "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rss_before = psutil.Process().memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite (DATA_DIR)", measure(SqliteHuey("bench", filename=os.path.join(tmp, "q.db"), results=False),
                                            args.jobs))
    with running_redis() as url:
        report("Redis (REDIS_URL)", measure(RedisHuey("bench", url=url, results=False), args.jobs))
    grown = (psutil.Process().memory_info().rss - rss_before) / 2 ** 20
    print(f"  memory: huey and both consumers added {grown:.1f} MB to this process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
