"""`make bench`: what the service adds on top of Jimeng for task status queries.

In one run, on loopback, with the sandbox given a fixed latency per call (`SANDBOX_LATENCY_MS`):
(a) one task's status through the service vs the same `get_history_by_ids` call made directly to
the sandbox with the project's own signed client, and (b) a batch of 100 task ids through the
service vs the direct calls it needs (one per token and chunk of `HISTORY_CHUNK` ids; one token here).
Requests alternate service/direct so drift hits both alike. Prints p50/p99, the added latency
(service - direct) and the ratio; `--json` for machines. Bounded: it stops by itself.

    python -m bench.bench_tasks [--singles 200] [--batches 30] [--latency-ms 20] [--json]
"""
from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

if __package__ in (None, ""):  # run as `python bench/bench_tasks.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token
from app.services.tasks import HISTORY_CHUNK
from app.task_ids import TaskId
from bench.bench_load import render_checks
from sandbox.stack import StackError, exit_on_sigterm, running_stack

BATCH_SIZE = 100
# Tasks stay queued: a status query is then one history call, as in the direct path. (A completed
# video's HD link is asked for once and then kept: bench_load's finished storm measures that.)
QUEUED = "[sandbox:queue=86400]"
WARMUP = 5
TIMEOUT = (5.0, 30.0)


class BenchError(RuntimeError):
    """The stack answered something other than what the contract promises; the bench stops."""


@dataclass(frozen=True)
class Timings:
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=100, method="inclusive")[98]

    def summary(self) -> dict:
        return {"n": len(self.samples_ms), "p50_ms": round(self.p50, 3), "p99_ms": round(self.p99, 3)}


def compare(service: Timings, direct: Timings) -> dict:
    return {"service": service.summary(), "direct": direct.summary(),
            "added_p50_ms": round(service.p50 - direct.p50, 3),
            "added_p99_ms": round(service.p99 - direct.p99, 3),
            "ratio_p50": round(service.p50 / direct.p50, 3)}


def timed_pairs(count: int, service_call: Callable[[int], None],
                direct_call: Callable[[int], None]) -> tuple[Timings, Timings]:
    """Alternate the two calls `count` times each (after a warm-up); their timings in ms."""
    for i in range(WARMUP):
        service_call(i)
        direct_call(i)
    service_ms, direct_ms = [], []
    for i in range(count):
        for call, sink in ((service_call, service_ms), (direct_call, direct_ms)):
            t0 = time.perf_counter()
            call(i)
            sink.append((time.perf_counter() - t0) * 1000)
    return Timings(service_ms), Timings(direct_ms)


def _ok_json(resp: requests.Response) -> dict:
    if resp.status_code != 200:
        raise BenchError(f"{resp.request.method} {resp.url} answered HTTP {resp.status_code}: {resp.text[:300]}")
    return resp.json()


def run_bench(*, singles: int, batches: int, latency_ms: int, workers: int) -> dict:
    secret = secrets.token_hex(16)   # ours, so the bench can read history ids out of task ids
    raw_token = f"bench-session-{secrets.token_hex(8)}"
    with running_stack(service_env={"SECRET_KEY": secret, "LOG_LEVEL": "WARNING"},
                       sandbox_env={"SANDBOX_LATENCY_MS": str(latency_ms)}, workers=workers) as stack:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {raw_token}"

        def submit(i: int) -> str:
            resp = http.post(f"{stack.service_url}/v1/videos/generations",
                             json={"prompt": f"bench task {i}: a lighthouse at night {QUEUED}"}, timeout=TIMEOUT)
            return _ok_json(resp)["task_id"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            task_ids = list(pool.map(submit, range(BATCH_SIZE)))
        history_ids = [TaskId.decode(t, secret).upstream_id for t in task_ids]

        direct = JimengClient(upstream_url=stack.sandbox_url)
        token = parse_token(raw_token)

        def service_single(i: int) -> None:
            task_id = task_ids[i % BATCH_SIZE]
            _ok_json(http.get(f"{stack.service_url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT))

        def direct_single(i: int) -> None:
            history_id = history_ids[i % BATCH_SIZE]
            if history_id not in direct.history_by_ids(token, [history_id]):
                raise BenchError(f"the sandbox does not know history id {history_id}")

        def service_batch(i: int) -> None:
            data = _ok_json(http.post(f"{stack.service_url}/v1/videos/tasks/batch",
                                      json={"task_ids": task_ids}, timeout=TIMEOUT))["data"]
            missing = [d["task_id"] for d in data if d.get("status") == "not_found"]
            if len(data) != BATCH_SIZE or missing:
                raise BenchError(f"batch answered {len(data)} items, {len(missing)} not found")

        def direct_batch(i: int) -> None:
            # The same calls the service makes: one per token and chunk of HISTORY_CHUNK ids, in turn.
            found = 0
            for start in range(0, BATCH_SIZE, HISTORY_CHUNK):
                found += len(direct.history_by_ids(token, history_ids[start:start + HISTORY_CHUNK]))
            if found != BATCH_SIZE:
                raise BenchError("the sandbox did not answer every history id of the batch")

        single = compare(*timed_pairs(singles, service_single, direct_single))
        batch = compare(*timed_pairs(batches, service_batch, direct_batch))
    return {"sandbox_latency_ms": latency_ms, "workers": workers, "batch_size": BATCH_SIZE,
            "upstream_calls_per_batch": -(-BATCH_SIZE // HISTORY_CHUNK), "single": single, "batch": batch}


def render_table(result: dict) -> str:
    lines = [f"task status queries, sandbox latency {result['sandbox_latency_ms']} ms per upstream call, "
             f"{result['workers']} gunicorn worker(s), loopback",
             f"{'query':<26}{'path':<9}{'n':>5}{'p50 ms':>10}{'p99 ms':>10}"]
    batch_label = f"batch of {result['batch_size']} ({result['upstream_calls_per_batch']} calls)"
    for key, label in (("single", "single task (1 call)"), ("batch", batch_label)):
        row = result[key]
        for path in ("service", "direct"):
            s = row[path]
            lines.append(f"{label:<26}{path:<9}{s['n']:>5}{s['p50_ms']:>10.2f}{s['p99_ms']:>10.2f}")
        lines.append(f"{'':<26}{'added':<9}{'':>5}{row['added_p50_ms']:>10.2f}{row['added_p99_ms']:>10.2f}"
                     f"   ratio {row['ratio_p50']:.2f}x at p50")
    lines.append("")
    lines += render_checks(checks(result))
    return "\n".join(lines)


def checks(result: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for the latency targets of the issue."""
    single = result["single"]["added_p50_ms"]
    per_task = result["batch"]["added_p50_ms"] / result["batch_size"]
    return [("one status query, added p50", f"{single:.2f} ms", "<= 2 ms", single <= 2.0),
            (f"batch of {result['batch_size']}, added p50 per task", f"{per_task:.3f} ms", "<= 0.1 ms",
             per_task <= 0.1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_tasks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=200, help="single-task queries per path (default 200)")
    parser.add_argument("--batches", type=int, default=30, help="batch queries per path (default 30)")
    parser.add_argument("--latency-ms", type=int, default=20, help="sandbox latency per call (default 20)")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.singles < 1 or args.batches < 1 or args.latency_ms < 0:
        parser.error("--singles and --batches must be at least 1, --latency-ms at least 0")
    return run_and_print(lambda: run_bench(singles=args.singles, batches=args.batches,
                                           latency_ms=args.latency_ms, workers=args.workers),
                         render_table, as_json=args.json)


def run_and_print(run: Callable[[], dict], render: Callable[[dict], str], *, as_json: bool) -> int:
    """Run one bench, print its result; the exit code says whether it could run (shared by the benches)."""
    exit_on_sigterm()
    try:
        result = run()
    except (StackError, BenchError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the stack is stopped", file=sys.stderr)
        return 130
    print(json.dumps(result, indent=2) if as_json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
