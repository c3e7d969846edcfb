"""`make bench`: poller storms, measured with wrk, against calling the upstream directly.

One run on loopback: tasks are submitted through the service to the real sandbox, some left queued
for the whole run, some finished at once; their records and the finished videos' download items
are captured, then a fixed-latency fake upstream (bench/fake_upstream.py) answers
`get_history_by_ids` and `get_local_item_list` from them and counts the calls. Three storms: every
poller on a task in progress; every poller on a finished video; a mixed one (most in progress, some
finished). In each, wrk drives N concurrent pollers of `GET /v1/videos/tasks/{id}` at the service,
and the same N at the fake upstream directly (the `get_history_by_ids` POST a client would make
per poll), after a warm-up (steady state: a finished video's HD link already kept). Upstream calls
per poll are the fake's count over the polls the service answered (its own /metrics, once the
last request in flight is done). Each figure is printed beside its target; `--json` for machines.

    python -m bench.bench_load [--duration 10] [--latency-ms 200] [--json]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

if __package__ in (None, ""):  # run as `python bench/bench_load.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.jimeng.client import HISTORY_PATH, JimengClient
from app.jimeng.history import SUCCEEDED, item_id_of, parse_record
from app.jimeng.regions import parse_token
from app.task_ids import TaskId
from sandbox.stack import HOST, StackError, exit_on_sigterm, free_ports, running_stack

TASKS = 64                # per storm: queued tasks, and as many finished videos
MIXED_FINISHED = 8        # of the mixed storm's TASKS: most in progress, these finished
LEVELS = (64, 256)
TIMEOUT = (5.0, 30.0)
PEER_RATIO_256 = 0.72    # the TypeScript peer at 256 pollers, from the measurement
MAX_RSS_MB = 80.0
MAX_CALLS_PER_POLL = 1.05
QUEUED, FINISHED = "[sandbox:queue=86400]", "[sandbox:queue=0] [sandbox:generate=0]"
STORMS = {"in progress": "every poller on a task in progress", "finished": "every poller on a finished video",
          "mixed": f"{TASKS - MIXED_FINISHED} in progress, {MIXED_FINISHED} finished"}
POLL_ROUTE = 'route="/v1/videos/tasks/<task_id>"'

# wrk prints this line from `done`: one JSON object we parse instead of wrk's human text.
_WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":%d,"non2xx":%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""


class BenchError(RuntimeError):
    """The stack answered something other than what the contract promises; the bench stops."""


def capture_records(secret: str, raw_token: str) -> tuple[dict[str, list[str]], dict[str, dict], dict[str, dict]]:
    """Submit TASKS long-queued tasks and TASKS finished ones through the service: the task ids of
    each storm, the raw upstream records and the finished videos' download items."""
    with running_stack(service_env={"SECRET_KEY": secret, "LOG_LEVEL": "WARNING"}) as stack:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {raw_token}"

        def submit(prompt: str) -> str:
            resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT, json={"prompt": prompt})
            if resp.status_code != 200:
                raise BenchError(f"submit answered HTTP {resp.status_code}: {resp.text[:300]}")
            return resp.json()["task_id"]

        prompts = [f"bench poller {i}: a harbour at dawn {QUEUED}" for i in range(TASKS)]
        prompts += [f"bench poller {i}: a harbour at dusk {FINISHED}" for i in range(TASKS)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            task_ids = list(pool.map(submit, prompts))
        token = parse_token(raw_token)
        upstream = JimengClient(upstream_url=stack.sandbox_url)
        history_ids = [TaskId.decode(t, secret).upstream_id for t in task_ids]
        records = upstream.history_by_ids(token, history_ids)
        if len(records) != len(task_ids):
            raise BenchError(f"the sandbox returned {len(records)} of {len(task_ids)} records")
        finished = [parse_record(h, records[h]) for h in history_ids[TASKS:]]
        if any(r.phase != SUCCEEDED or not r.item_id for r in finished):
            raise BenchError("the sandbox did not finish the tasks asked to finish at once")
        answer = upstream.local_items(token, [r.item_id for r in finished])
        items = {item_id_of(item): item for item in answer.get("item_list") or []}
        if len(items) != TASKS:
            raise BenchError(f"the sandbox returned {len(items)} of {TASKS} download items")
    queued, done = task_ids[:TASKS], task_ids[TASKS:]
    # The mixed storm: a finished video every TASKS // MIXED_FINISHED tasks.
    step = TASKS // MIXED_FINISHED
    mixed = [done[i // step] if i % step == step - 1 else queued[i] for i in range(TASKS)]
    return {"in progress": queued, "finished": done, "mixed": mixed}, records, items


@contextlib.contextmanager
def fake_upstream(records: dict[str, dict], items: dict[str, dict], latency_ms: float,
                  workdir: Path) -> Iterator[str]:
    records_path, items_path = workdir / "records.json", workdir / "items.json"
    records_path.write_text(json.dumps(records))
    items_path.write_text(json.dumps(items))
    (port,) = free_ports(1)
    url = f"http://{HOST}:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "bench.fake_upstream", "--port", str(port),
                             "--records", str(records_path), "--items", str(items_path),
                             "--latency-ms", str(latency_ms)],
                            cwd=Path(__file__).resolve().parents[1], start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                requests.get(url + "/ping", timeout=1)
                break
            except requests.RequestException:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError("the fake upstream did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def poll_each_once(service_url: str, task_ids: list[str], raw_token: str) -> None:
    """Every task of a storm polled once: a finished video's HD link is then kept, as in steady state."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {raw_token}"
    with ThreadPoolExecutor(max_workers=16) as pool:
        for resp in pool.map(lambda t: http.get(f"{service_url}/v1/videos/tasks/{t}", timeout=TIMEOUT), task_ids):
            if resp.status_code != 200:
                raise BenchError(f"a poll answered HTTP {resp.status_code}: {resp.text[:300]}")
            body = resp.json()
            if body["status"] == "completed" and not body["result"].get("hd"):
                raise BenchError(f"a finished video answered without its HD link: {body['result']}")


def settled_counts(upstream_url: str, service_url: str) -> tuple[int, float]:
    """(upstream calls, polls answered) once the requests wrk left in flight are answered too (wrk
    closes their connections; the service still answers them, and counts each)."""
    seen = (upstream_calls(upstream_url), polls_answered(service_url))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = (upstream_calls(upstream_url), polls_answered(service_url))
        if now == seen:
            break
        seen = now
    return seen


def upstream_calls(upstream_url: str) -> int:
    """Calls the fake upstream has answered so far (history and download items)."""
    return sum(requests.get(f"{upstream_url}/_calls", timeout=TIMEOUT).json().values())


def polls_answered(service_url: str) -> float:
    """Task polls the service has answered so far, every worker added up (its /metrics)."""
    text = requests.get(f"{service_url}/metrics", timeout=TIMEOUT).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("jimeng_api_requests_total{") and POLL_ROUTE in line and 'method="GET"' in line)


def wrk(url: str, script: str, connections: int, duration: float, workdir: Path) -> dict:
    lua = workdir / f"wrk-{secrets.token_hex(4)}.lua"
    lua.write_text(script + _WRK_DONE)
    threads = min(2, connections)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
                          "--timeout", "10s", "-s", str(lua), url],
                         capture_output=True, text=True, timeout=duration + 60)
    match = re.search(r"^WRKJSON (.*)$", out.stdout, re.M)
    if out.returncode != 0 or not match:
        raise BenchError(f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(match.group(1))
    seconds = raw["duration_us"] / 1e6
    return {"connections": connections, "requests": raw["requests"], "rps": round(raw["requests"] / seconds, 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
            "errors": raw["errors"] + raw["non2xx"]}


def _lua_list(items: list[str]) -> str:
    return "{" + ",".join(json.dumps(i) for i in items) + "}"


def service_script(task_ids: list[str], raw_token: str) -> str:
    paths = [f"/v1/videos/tasks/{t}" for t in task_ids]
    return (f"local paths = {_lua_list(paths)}\nlocal i = 0\n"
            f'wrk.headers["Authorization"] = {json.dumps("Bearer " + raw_token)}\n'
            "request = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end\n")


def direct_script(history_ids: list[str]) -> str:
    bodies = [json.dumps({"history_ids": [h]}) for h in history_ids]
    return (f"local bodies = {_lua_list(bodies)}\nlocal i = 0\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"request = function() i = i % #bodies + 1; return wrk.format('POST', {json.dumps(HISTORY_PATH)}, "
            "nil, bodies[i]) end\n")


def _workers(master_pid: int) -> list[Path]:
    """/proc entries of the gunicorn master's children (the workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == str(master_pid):
                found.append(entry)
    return found


def worker_rss_mb(master_pid: int) -> list[float]:
    """Resident memory of each gunicorn worker."""
    sizes = []
    for entry in _workers(master_pid):
        for line in (entry / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sorted(sizes)


def worker_cpu_seconds(master_pid: int) -> float:
    """User + system CPU the workers have used so far: the service's own cost, whatever else runs."""
    total = 0
    for entry in _workers(master_pid):
        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])   # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def run_bench(*, duration: float, latency_ms: float, workers: int | None) -> dict:
    secret = secrets.token_hex(16)
    raw_token = f"bench-session-{secrets.token_hex(8)}"
    storm_ids, records, items = capture_records(secret, raw_token)
    service_env = {"SECRET_KEY": secret, "LOG_LEVEL": "WARNING"}
    storms = {}
    with tempfile.TemporaryDirectory(prefix="jimeng-bench-") as tmp:
        workdir = Path(tmp)
        with fake_upstream(records, items, latency_ms, workdir) as upstream_url:
            service_env["JIMENG_UPSTREAM_URL"] = upstream_url
            with running_stack(service_env=service_env, workers=workers) as stack:
                for storm, task_ids in storm_ids.items():
                    history_ids = [TaskId.decode(t, secret).upstream_id for t in task_ids]
                    svc, direct = service_script(task_ids, raw_token), direct_script(history_ids)
                    poll_each_once(stack.service_url, task_ids, raw_token)    # steady state: HD links kept
                    wrk(stack.service_url, svc, 16, 2, workdir)      # warm-up: imports, pools
                    levels = {}
                    for conns in LEVELS:
                        d = wrk(upstream_url, direct, conns, duration, workdir)
                        cpu0 = worker_cpu_seconds(stack.service_pid)
                        calls0, polls0 = settled_counts(upstream_url, stack.service_url)
                        s = wrk(stack.service_url, svc, conns, duration, workdir)
                        s["cpu_ms_per_request"] = round(
                            (worker_cpu_seconds(stack.service_pid) - cpu0) * 1000 / max(s["requests"], 1), 2)
                        calls, polls = settled_counts(upstream_url, stack.service_url)
                        s["upstream_calls_per_poll"] = round((calls - calls0) / max(polls - polls0, 1), 3)
                        levels[conns] = {"direct": d, "service": s, "ratio_rps": round(s["rps"] / d["rps"], 3),
                                         "ratio_p99": round(s["p99_ms"] / d["p99_ms"], 3)}
                    storms[storm] = {"levels": levels}
                rss = worker_rss_mb(stack.service_pid)
                pool_warnings = stack.log_dir.joinpath("service.log").read_text().count("pool is full")
    return {"latency_ms": latency_ms, "duration_s": duration, "workers": len(rss), "worker_rss_mb": rss,
            "pool_full_warnings": pool_warnings, "storms": storms}


def storm_checks(storm: str, levels: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for one storm: throughput and p99 against direct, upstream calls."""
    l64, l256 = levels[64], levels[256]
    peer = storm == "in progress"           # the peer was measured on this storm only
    calls = max(lv["service"]["upstream_calls_per_poll"] for lv in levels.values())
    return [
        (f"{storm}: throughput at 64 pollers", f"{l64['ratio_rps']:.2f}x direct "
         f"({l64['service']['rps']:.0f} / {l64['direct']['rps']:.0f} req/s)", ">= 0.95x", l64["ratio_rps"] >= 0.95),
        (f"{storm}: throughput at 256 pollers", f"{l256['ratio_rps']:.2f}x direct "
         f"({l256['service']['rps']:.0f} / {l256['direct']['rps']:.0f} req/s)",
         ">= 0.80x" + (f" and > peer {PEER_RATIO_256}x" if peer else ""),
         l256["ratio_rps"] >= 0.8 and (not peer or l256["ratio_rps"] > PEER_RATIO_256)),
        (f"{storm}: p99 at 64 pollers", f"{l64['ratio_p99']:.2f}x direct "
         f"({l64['service']['p99_ms']:.0f} / {l64['direct']['p99_ms']:.0f} ms)", "<= 1.5x", l64["ratio_p99"] <= 1.5),
        (f"{storm}: upstream calls per poll", f"{calls:.3f} (worst of both levels)", f"<= {MAX_CALLS_PER_POLL}",
         calls <= MAX_CALLS_PER_POLL),
    ]


def checks(result: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, measured, target, met) for every target of the issues."""
    rows = [row for storm, s in result["storms"].items() for row in storm_checks(storm, s["levels"])]
    errors = sum(lv[p]["errors"] for s in result["storms"].values() for lv in s["levels"].values()
                 for p in ("service", "direct"))
    rss = max(result["worker_rss_mb"] or [0.0])
    return rows + [
        ("errors (all runs)", str(errors), "0", errors == 0),
        ("worker RSS (largest)", f"{rss:.1f} MB", f"<= {MAX_RSS_MB:.0f} MB", 0 < rss <= MAX_RSS_MB),
        ("upstream 'pool is full' warnings", str(result["pool_full_warnings"]), "0", result["pool_full_warnings"] == 0),
    ]


def sizing(result: dict) -> str:
    """Requests per second one core of service CPU can carry, from the workers' own CPU time."""
    cpu = result["storms"]["in progress"]["levels"][256]["service"]["cpu_ms_per_request"]
    return (f"sizing: {cpu:.2f} ms of worker CPU per status query at 256 pollers -> about "
            f"{1000 / cpu:.0f} req/s per core of CPU left to the service" if cpu else "sizing: no CPU measured")


def render(result: dict) -> str:
    lines = [f"poller storms (wrk), fixed upstream latency {result['latency_ms']:g} ms, {result['duration_s']:g} s "
             f"per run, {result['workers']} worker(s), {os.cpu_count()} cores, loopback; load average "
             f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end"]
    for storm, s in result["storms"].items():
        lines += ["", f"{storm} ({STORMS[storm]})",
                  f"{'pollers':>8} {'path':<8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'CPU ms/req':>11}"
                  f"{'calls/poll':>11}"]
        for conns, lv in s["levels"].items():
            for path in ("service", "direct"):
                r = lv[path]
                cpu = f"{r['cpu_ms_per_request']:>11.2f}" if "cpu_ms_per_request" in r else f"{'':>11}"
                calls = f"{r['upstream_calls_per_poll']:>11.3f}" if "upstream_calls_per_poll" in r else ""
                lines.append(f"{conns:>8} {path:<8}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}"
                             f"{r['errors']:>8}{cpu}{calls}")
    lines.append("")
    lines += render_checks(checks(result))
    lines += ["", sizing(result)]
    return "\n".join(lines)


def render_checks(rows: list[tuple[str, str, str, bool]]) -> list[str]:
    out = [f"{'figure':<46}{'measured':<36}{'target':<28}"]
    out += [f"{name:<46}{got:<36}{target:<28}{'ok' if ok else 'MISSED'}" for name, got, target, ok in rows]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="upstream latency (default 200)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    try:
        result = run_bench(duration=args.duration, latency_ms=args.latency_ms, workers=args.workers)
    except (StackError, BenchError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the stack is stopped", file=sys.stderr)
        return 130
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
