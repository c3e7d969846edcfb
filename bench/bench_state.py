"""`make bench`: the shared state's cost per operation with several worker processes at once.

Under gevent a call into SQLite holds its whole worker, so each operation must take microseconds
even while the other workers write. PROCESSES processes (gunicorn's default on 2 cores: 3) each run
the operations a request makes - a marker's put_new, get and drop, a rate count, a slot taken and
given back, an HD-link read of 64 keys and a write - as fast as they can for a few seconds, on one
store under a fresh DATA_DIR (far more often than requests do: the worst case for lock waits).
Two figures: each operation's whole latency (waits for another process's write included, during
which a gevent worker runs other requests), and the time the process is held inside SQLite per
attempt (what blocks a gevent worker). `--redis URL` measures a Redis backend the same way.

    python -m bench.bench_state [--seconds 5] [--processes 3] [--redis redis://127.0.0.1:6379/0] [--json]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/bench_state.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_load import render_checks

TARGET_P99_US = 1000.0     # a request's state calls must not hold a gevent worker for a millisecond
OPERATIONS = ("get", "put_new", "drop", "count", "take_slot", "drop_slot", "get_many_64", "put")


def _store(data_dir: str, redis_url: str | None):
    if redis_url:
        from app.state.shared import RedisState
        return RedisState(redis_url, prefix=f"bench-{secrets.token_hex(4)}:")
    from app.state.sqlite import SqliteState
    return SqliteState(data_dir)


def _hammer(data_dir: str, redis_url: str | None, seconds: float, index: int, out) -> None:
    store = _store(data_dir, redis_url)
    store.get("warm")
    samples: dict[str, list[int]] = {name: [] for name in OPERATIONS}
    held: list[int] = []
    if not redis_url:
        attempt = type(store)._attempt

        def timed_attempt(*args):
            start = time.perf_counter_ns()
            try:
                return attempt(store, *args)
            finally:
                held.append(time.perf_counter_ns() - start)
        store._attempt = timed_attempt
    keys = [f"hd:{index}:{i}" for i in range(64)]
    store.put_many([(k, "+https://example.test/v.mp4", 600) for k in keys])

    def timed(name, call, *args):
        start = time.perf_counter_ns()
        result = call(*args)
        samples[name].append(time.perf_counter_ns() - start)
        return result

    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        owner = f"{index}-{n}"
        timed("put_new", store.put_new, f"idem:{n % 50}", owner, 60)
        timed("get", store.get, f"idem:{n % 50}")
        timed("drop", store.drop, f"idem:{n % 50}", owner)
        timed("count", store.count, f"rate:{n % 10}", 60)
        now = time.time()
        if timed("take_slot", store.take_slot, "slots:acct", owner, 5, now + 60, now):
            timed("drop_slot", store.drop_slot, "slots:acct", owner)
        timed("get_many_64", store.get_many, keys)
        timed("put", store.put, f"hd:{index}:{n % 64}", "+https://example.test/v.mp4", 600)
    out.put((samples, held))


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] / 1000 if ordered else 0.0


def run(seconds: float, processes: int, redis_url: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="jimeng-bench-state-") as data_dir:
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        procs = [ctx.Process(target=_hammer, args=(data_dir, redis_url, seconds, i, out)) for i in range(processes)]
        for p in procs:
            p.start()
        results = [out.get(timeout=seconds + 60) for _ in procs]
        for p in procs:
            p.join(timeout=10)
    merged = {name: [v for samples, _ in results for v in samples[name]] for name in OPERATIONS}
    held = [v for _, h in results for v in h]
    calls = sum(len(v) for v in merged.values())
    return {"backend": "redis" if redis_url else "sqlite", "processes": processes, "seconds": seconds,
            "operations": {name: {"count": len(v), "p50_us": round(_percentile(v, 0.5), 1),
                                  "p99_us": round(_percentile(v, 0.99), 1), "max_us": round(max(v) / 1000, 1)}
                           for name, v in merged.items() if v},
            "held": {"attempts_per_call": round(len(held) / max(calls, 1), 3),
                     "p50_us": round(_percentile(held, 0.5), 1), "p99_us": round(_percentile(held, 0.99), 1),
                     "p999_us": round(_percentile(held, 0.999), 1)} if held else None}


def render(result: dict) -> str:
    lines = [f"shared state ({result['backend']}), {result['processes']} processes hammering for "
             f"{result['seconds']:g} s",
             f"{'operation':<14}{'count':>9}{'p50 us':>10}{'p99 us':>10}{'max us':>10}"]
    for name, r in result["operations"].items():
        lines.append(f"{name:<14}{r['count']:>9}{r['p50_us']:>10.1f}{r['p99_us']:>10.1f}{r['max_us']:>10.1f}")
    held = result["held"]
    if held is None:
        return "\n".join(lines)
    lines.append(f"held inside SQLite per attempt: p50 {held['p50_us']:.0f} us, p99 {held['p99_us']:.0f} us, "
                 f"p99.9 {held['p999_us']:.0f} us; {held['attempts_per_call']:.3f} attempts per call "
                 "(a busy file is tried again after a sleep)")
    lines += [""] + render_checks([("held in SQLite, p99", f"{held['p99_us']:.0f} us", f"<= {TARGET_P99_US:.0f} us",
                                    held["p99_us"] <= TARGET_P99_US)])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_state", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--redis", default=None, help="measure RedisState at this URL instead")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.processes, args.redis)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
