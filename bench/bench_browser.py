"""`make bench`: the browser transport's cost, against a direct submit in the same run.

One stack on loopback (gunicorn + the strict sandbox with a fixed latency per call + a real
headless Chromium). Measured:
- cold start: the first protected submit (Seedance 2.0, CN, `BROWSER_TRANSPORT=auto`): the direct
  try Jimeng refuses, the browser process start, Chromium's launch, the page and the signed fetch;
- warm submit: submits through the browser (the learned Seedance 2.0) and direct submits (an
  unprotected model) through the same service and account, alternating; the difference is what
  the browser adds;
- memory: the Chromium process tree with 1 and with 10 accounts open (sum of RSS, and of PSS,
  which counts shared pages once), and the gunicorn worker's RSS.
Each figure is printed beside its target. Bounded: it stops by itself.

    python -m bench.bench_browser [--submits 40] [--latency-ms 20] [--json]
"""
from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

import psutil
import requests

if __package__ in (None, ""):  # run as `python bench/bench_browser.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_tasks import BenchError, compare, run_and_print, timed_pairs
from sandbox.stack import Stack, running_stack

TIMEOUT = (5.0, 60.0)
PROTECTED = "jimeng-video-seedance-2.0"
UNPROTECTED = "jimeng-video-3.5-pro"
MB = 1024 * 1024
TARGETS = {"cold_start_s": 10.0, "warm_added_p50_ms": 300.0, "warm_added_p99_ms": 1000.0,
           "browser_rss_1_mb": 250.0, "browser_rss_10_mb": 600.0, "worker_rss_mb": 80.0}


def _submit(stack: Stack, token: str, model: str, prompt: str) -> None:
    resp = requests.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                         headers={"Authorization": f"Bearer {token}"}, json={"prompt": prompt, "model": model})
    if resp.status_code != 200:
        raise BenchError(f"submit of {model} answered HTTP {resp.status_code}: {resp.text[:300]}")


def _browser(stack: Stack) -> dict:
    state = requests.get(f"{stack.service_url}/healthz", timeout=TIMEOUT).json()["browser"]
    if state.get("state") != "running":
        raise BenchError(f"the browser is not running: {state}")
    return state


def _tree_memory(pids: list[int]) -> dict:
    rss = pss = 0
    for pid in pids:
        try:
            info = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
    return {"processes": len(pids), "rss_mb": round(rss / MB, 1), "pss_mb": round(pss / MB, 1)}


def _service_processes(stack: Stack) -> tuple[list[int], list[int]]:
    """(gunicorn worker pids, browser-process pids: its Python and Playwright's driver) of this stack."""
    port = stack.service_url.rsplit(":", 1)[1]
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd:
            workers, helpers = [], []
            for child in proc.children():
                child_cmd = " ".join(child.cmdline())
                if "app.jimeng.browser.server" in child_cmd:
                    helpers += [child.pid] + [c.pid for c in child.children(recursive=True)
                                              if "chrom" not in c.name().lower()]
                elif "gunicorn" in child_cmd:
                    workers.append(child.pid)
            # The browser process is started by a worker: it may hang below the worker instead.
            for worker in workers:
                for child in psutil.Process(worker).children():
                    if "app.jimeng.browser.server" in " ".join(child.cmdline()):
                        helpers += [child.pid] + [c.pid for c in child.children(recursive=True)
                                                  if "chrom" not in c.name().lower()]
            return workers, helpers
    raise BenchError("the service's gunicorn master was not found")


def run_bench(*, submits: int, latency_ms: int) -> dict:
    account = f"bench-browser-{secrets.token_hex(6)}"
    env = {"LOG_LEVEL": "WARNING", "BROWSER_TRANSPORT": "auto"}
    with running_stack(service_env=env, sandbox_env={"SANDBOX_LATENCY_MS": str(latency_ms)}) as stack:
        t0 = time.perf_counter()
        _submit(stack, account, PROTECTED, "cold start")
        cold_s = time.perf_counter() - t0

        browser_path, direct_path = timed_pairs(
            submits, lambda i: _submit(stack, account, PROTECTED, f"warm {i}"),
            lambda i: _submit(stack, account, UNPROTECTED, f"direct {i}"))
        warm = compare(browser_path, direct_path)
        one = _tree_memory(_browser(stack)["browser_pids"])

        for n in range(9):
            _submit(stack, f"{account}-{n}", PROTECTED, f"account {n}")
        state = _browser(stack)
        if state.get("accounts") != 10:
            raise BenchError(f"expected 10 open accounts, the browser has {state.get('accounts')}")
        ten = _tree_memory(state["browser_pids"])
        workers, helpers = _service_processes(stack)
        worker_rss = max(psutil.Process(pid).memory_info().rss for pid in workers) / MB
        helper = _tree_memory(helpers)
    return {"sandbox_latency_ms": latency_ms, "executable": state.get("executable"),
            "cold_start_s": round(cold_s, 2), "warm": warm,
            "browser_1_account": one, "browser_10_accounts": ten,
            "browser_process_python_and_driver": helper, "worker_rss_mb": round(worker_rss, 1)}


def render_table(r: dict) -> str:
    def row(label: str, value: str, target: str, ok: bool) -> str:
        return f"{label:<58}{value:>10}   target {target:<11}{'ok' if ok else 'MISSED'}"

    warm = r["warm"]
    lines = [f"browser transport, sandbox latency {r['sandbox_latency_ms']} ms per call, 1 gunicorn worker, "
             f"{r['executable']}",
             row("cold start (first protected submit, launch incl.)", f"{r['cold_start_s']:.2f} s", "<= 10 s",
                 r["cold_start_s"] <= TARGETS["cold_start_s"]),
             row(f"warm submit, added over direct, p50 (n={warm['service']['n']})",
                 f"{warm['added_p50_ms']:.1f} ms", "<= 300 ms", warm["added_p50_ms"] <= TARGETS["warm_added_p50_ms"]),
             row("warm submit, added over direct, p99", f"{warm['added_p99_ms']:.1f} ms", "<= 1000 ms",
                 warm["added_p99_ms"] <= TARGETS["warm_added_p99_ms"]),
             f"{'  (browser submit p50/p99, direct submit p50/p99, ms)':<58}"
             f"{warm['service']['p50_ms']:.1f}/{warm['service']['p99_ms']:.1f}, "
             f"{warm['direct']['p50_ms']:.1f}/{warm['direct']['p99_ms']:.1f}"]
    for key, label, target in (("browser_1_account", "Chromium tree, 1 account", "browser_rss_1_mb"),
                               ("browser_10_accounts", "Chromium tree, 10 accounts", "browser_rss_10_mb")):
        m = r[key]
        lines.append(row(f"{label}: RSS sum ({m['processes']} processes)", f"{m['rss_mb']:.0f} MB",
                         f"<= {TARGETS[target]:.0f} MB", m["rss_mb"] <= TARGETS[target]))
        lines.append(row(f"{label}: PSS sum (shared pages once)", f"{m['pss_mb']:.0f} MB",
                         f"<= {TARGETS[target]:.0f} MB", m["pss_mb"] <= TARGETS[target]))
    h = r["browser_process_python_and_driver"]
    lines.append(f"{'  (browser process: Python + Playwright driver, RSS)':<58}{h['rss_mb']:>7.0f} MB")
    lines.append(row("service worker RSS", f"{r['worker_rss_mb']:.0f} MB", "<= 80 MB",
                     r["worker_rss_mb"] <= TARGETS["worker_rss_mb"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_browser", description=__doc__.split("\n\n")[0])
    parser.add_argument("--submits", type=int, default=40, help="warm submits per path (default 40)")
    parser.add_argument("--latency-ms", type=int, default=20, help="sandbox latency per call (default 20)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.submits < 2 or args.latency_ms < 0:
        parser.error("--submits must be at least 2, --latency-ms at least 0")
    return run_and_print(lambda: run_bench(submits=args.submits, latency_ms=args.latency_ms), render_table,
                         as_json=args.json)

if __name__ == "__main__":
    sys.exit(main())
