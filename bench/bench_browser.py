"""`make bench`: the browser transport's cost, against a direct submit in the same run.

One stack on loopback (gunicorn + the strict sandbox with a fixed latency per call + a real
headless Chromium). Measured:
- cold start: the first protected submit (Seedance 2.0, CN, `BROWSER_TRANSPORT=auto`): the direct
  try Jimeng refuses, the browser process start, Chromium's launch, the page and the signed fetch;
- warm submit: submits through the browser (the learned Seedance 2.0) and direct submits (an
  unprotected model) through the same service and account, alternating; the difference is what
  the browser adds;
- memory: the whole tree the service starts for the browser (the helper process
  `python -m app.jimeng.browser.server` and all its descendants: Playwright's node driver and
  every Chromium process) with 1 and with 10 accounts open. The targets are on the sum of RSS,
  which counts a page shared by n processes n times (Chromium's binary, mapped by each of its
  processes); PSS (shared pages split) and USS (private pages) are printed for information only;
- the gunicorn worker's RSS;
- a submit of an account whose page was closed to save memory (it loads the page again).
Each target figure is printed beside its target with ok or MISSED. Bounded: it stops by itself.

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


def _tree_memory(helper_pid: int) -> dict:
    """Memory of the whole tree the service starts for the browser: the helper process
    (`python -m app.jimeng.browser.server`) and every descendant (Playwright's node driver, each
    Chromium process). RSS counts a page shared by n processes n times; PSS splits it among them;
    USS is what each process alone holds."""
    try:
        helper = psutil.Process(helper_pid)
        procs = [helper, *helper.children(recursive=True)]
    except psutil.Error as exc:
        raise BenchError(f"the browser helper process {helper_pid} is gone: {exc}") from None
    total = {"rss": 0, "pss": 0, "uss": 0}
    parts: dict[str, dict] = {}
    for proc in procs:
        try:
            info = proc.memory_full_info()
            name = proc.name().lower()
            renderer = "--type=renderer" in proc.cmdline()
        except psutil.Error:
            continue
        kind = ("chromium renderers" if renderer else "chromium others") if "chrom" in name \
            else "node driver" if "node" in name else "python helper"
        part = parts.setdefault(kind, {"processes": 0, "rss": 0, "pss": 0, "uss": 0})
        part["processes"] += 1
        for key in ("rss", "pss", "uss"):
            value = getattr(info, key, info.rss)
            part[key] += value
            total[key] += value
    mb = {key: round(value / MB, 1) for key, value in total.items()}
    return {"processes": sum(p["processes"] for p in parts.values()),
            "rss_mb": mb["rss"], "pss_mb": mb["pss"], "uss_mb": mb["uss"],
            "parts": {kind: {"processes": p["processes"], "rss_mb": round(p["rss"] / MB, 1),
                             "pss_mb": round(p["pss"] / MB, 1)} for kind, p in sorted(parts.items())}}


def _workers(stack: Stack) -> list[int]:
    """The gunicorn worker pids of this stack."""
    port = stack.service_url.rsplit(":", 1)[1]
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmd and f"127.0.0.1:{port}" in cmd:
            return [child.pid for child in proc.children() if "gunicorn" in " ".join(child.cmdline())]
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
        state = _browser(stack)
        one = _tree_memory(state["pid"])

        for n in range(9):
            _submit(stack, f"{account}-{n}", PROTECTED, f"account {n}")
        state = _browser(stack)
        if state.get("accounts") != 10:
            raise BenchError(f"expected 10 open accounts, the browser has {state.get('accounts')}")
        ten = _tree_memory(state["pid"])
        reopen = []
        for n in range(3):      # accounts whose page was closed (beyond WARM_PAGES): the page loads again
            t0 = time.perf_counter()
            _submit(stack, f"{account}-{n}", PROTECTED, f"again {n}")
            reopen.append((time.perf_counter() - t0) * 1000)
        worker_rss = max(psutil.Process(pid).memory_info().rss for pid in _workers(stack)) / MB
    return {"sandbox_latency_ms": latency_ms, "executable": state.get("executable"),
            "load_average": [round(x, 2) for x in psutil.getloadavg()], "cpus": psutil.cpu_count(),
            "cold_start_s": round(cold_s, 2), "warm": warm, "page_reload_submit_ms": [round(x) for x in reopen],
            "browser_tree_1_account": one, "browser_tree_10_accounts": ten, "worker_rss_mb": round(worker_rss, 1)}


def render_table(r: dict) -> str:
    def row(label: str, value: str, target: str, ok: bool) -> str:
        return f"{label:<62}{value:>10}   target {target:<11}{'ok' if ok else 'MISSED'}"

    def info(label: str, value: str) -> str:
        return f"{label:<62}{value:>10}   (information, not a target)"

    warm = r["warm"]
    lines = [f"browser transport, sandbox latency {r['sandbox_latency_ms']} ms per call, 1 gunicorn worker, "
             f"{r['executable']}; {r['cpus']} CPUs, load average {r['load_average'][0]:.2f} at the end",
             row("cold start (first protected submit, launch incl.)", f"{r['cold_start_s']:.2f} s", "<= 10 s",
                 r["cold_start_s"] <= TARGETS["cold_start_s"]),
             row(f"warm submit, added over direct, p50 (n={warm['service']['n']})",
                 f"{warm['added_p50_ms']:.1f} ms", "<= 300 ms", warm["added_p50_ms"] <= TARGETS["warm_added_p50_ms"]),
             row("warm submit, added over direct, p99", f"{warm['added_p99_ms']:.1f} ms", "<= 1000 ms",
                 warm["added_p99_ms"] <= TARGETS["warm_added_p99_ms"]),
             f"{'  (browser submit p50/p99, direct submit p50/p99, ms)':<62}"
             f"{warm['service']['p50_ms']:.1f}/{warm['service']['p99_ms']:.1f}, "
             f"{warm['direct']['p50_ms']:.1f}/{warm['direct']['p99_ms']:.1f}",
             info("submit of an account whose page was closed (3 tries, ms)",
                  "/".join(str(x) for x in r["page_reload_submit_ms"]))]
    for key, label, target in (("browser_tree_1_account", "browser tree, 1 account", "browser_rss_1_mb"),
                               ("browser_tree_10_accounts", "browser tree, 10 accounts", "browser_rss_10_mb")):
        m = r[key]
        lines.append(row(f"{label}: RSS sum ({m['processes']} processes)", f"{m['rss_mb']:.0f} MB",
                         f"<= {TARGETS[target]:.0f} MB", m["rss_mb"] <= TARGETS[target]))
        for kind, part in m["parts"].items():
            lines.append(info(f"  {kind} ({part['processes']}): RSS / PSS",
                              f"{part['rss_mb']:.0f}/{part['pss_mb']:.0f} MB"))
        lines.append(info(f"  PSS sum (shared pages split) / USS sum (private only)",
                          f"{m['pss_mb']:.0f}/{m['uss_mb']:.0f} MB"))
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
