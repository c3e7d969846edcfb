"""Webhooks: what watching costs Jimeng, and how soon an event arrives once its task ended.

The whole stack on loopback (gunicorn, whose master runs the engine's consumer, and the sandbox),
with the default watching settings. One account submits N video tasks with a webhook; they end at
spread times (sandbox directives); a real receiver on loopback verifies every event and notes when
it arrived. Nothing but the watcher reads the tasks, so every `get_history_by_ids` call the service
counts (its /metrics, the consumer's included) is the price of watching.

    python -m bench.bench_webhooks [--tasks 100] [--seed 7]
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time

import psutil
import requests

from sandbox.stack import running_stack
from sandbox.receiver import SECRET, running_receiver

HISTORY = "/mweb/v1/get_history_by_ids"
TIMEOUT = (5.0, 30.0)


def history_calls(service_url: str) -> int:
    text = requests.get(f"{service_url}/metrics", timeout=TIMEOUT).text
    pattern = re.compile(r'^jimeng_api_upstream_calls_total\{endpoint="' + re.escape(HISTORY) + r'",[^}]*\} (\S+)$',
                         re.M)
    return int(sum(float(v) for v in pattern.findall(text)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # Queue 5-40 s, generation 5-20 s: the tasks end over about a minute, not together.
    plans = [(rng.randint(5, 40), rng.randint(5, 20)) for _ in range(args.tasks)]
    env = {"WEBHOOK_SECRET": SECRET, "ALLOW_LOOPBACK_WEBHOOKS": "1"}
    load_before = os.getloadavg()
    with running_receiver() as receiver, running_stack(service_env=env) as stack:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer bench-webhooks-{os.urandom(4).hex()}"
        ends: dict[str, float] = {}
        started = time.time()
        for queue_s, generate_s in plans:
            prompt = f"a lighthouse [sandbox:queue={queue_s}] [sandbox:generate={generate_s}]"
            resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                             json={"prompt": prompt, "webhook_url": receiver.url})
            resp.raise_for_status()
            # The sandbox starts the task's clock when it accepts it: it ends queue + generate later.
            ends[resp.json()["task_id"]] = time.time() + queue_s + generate_s
        last_end = max(ends.values())
        receiver.wait_for(len(ends), timeout=max(last_end - time.time(), 0) + 60)
        watching_calls = history_calls(stack.service_url)
        consumers = [p for p in psutil.Process(stack.service_pid).children(recursive=True)
                     if "app.webhooks.consumer" in " ".join(p.cmdline())]
        consumer_mb = sum(p.memory_info().rss for p in consumers) / 2 ** 20
        arrived = {r.event["data"]["task_id"]: r.at for r in receiver.received if r.event is not None}
    delays = [arrived[t] - end for t, end in ends.items()]
    watched_s = max(arrived.values()) - started
    naive = sum(q + g for q, g in plans) / 10.0      # each task read on its own every 10 s until it ends
    load_after = os.getloadavg()
    print(f"webhooks: {args.tasks} video tasks on one account, ending over {last_end - min(ends.values()):.0f} s "
          f"(from the first submit to the last event: {watched_s:.0f} s)")
    print(f"  upstream get_history_by_ids calls spent watching: {watching_calls} "
          f"(one task at a time every 10 s would cost about {naive:.0f})")
    print(f"  delivery delay after the task ended: p50 {statistics.median(delays):.1f} s, "
          f"p95 {percentile(delays, 0.95):.1f} s, max {max(delays):.1f} s "
          f"(watching at Jimeng's pace, capped at WEBHOOK_POLL_MAX_SECONDS=10)")
    print(f"  events: {len(arrived)} of {args.tasks}, each verified with the standardwebhooks library; "
          f"the consumer process: {consumer_mb:.0f} MB RSS")
    print(f"  machine load (1-min average) before {load_before[0]:.2f}, after {load_after[0]:.2f}, "
          f"{os.cpu_count()} cores")
    return 0 if len(arrived) == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
