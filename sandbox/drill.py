"""`make drill`: Jimeng moves, and the operator follows it in minutes, without a release.

The whole story on loopback, each step checked:
1. the sandbox is told Jimeng moved (`SANDBOX_DRIFT`, default `da_version=3.3.31`); submits fail with
   502 `upstream_changed`;
2. `/healthz` says `"upstream": "degraded"`;
3. `GET /v1/doctor` names the failing calls, and its page witness (the browser transport's page, whose
   own calls carry the new constants) already names the setting;
4. a HAR recorded by Chromium on the drifted sandbox page (what an operator exports from DevTools)
   goes through `POST /v1/doctor/capture`, which names the setting too;
5. the service is restarted with it, and a submit completes.

    python -m sandbox.drill [--drift "app_version=8.5.0,header=X-Jm-Client:web2"] [--keep-logs]

It drives the service only through its public HTTP API and Chromium only through Playwright.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sandbox.stack import Stack, StackError, exit_on_sigterm, running_service, running_stack

DEFAULT_DRIFT = "da_version=3.3.31"
FAST = "[sandbox:queue=1] [sandbox:generate=1]"
MODEL = "jimeng-video-3.5-pro"
PAGE = "/ai-tool/video/generate"
TIMEOUT = (5.0, 60.0)
# The operator's browser: desktop Chrome 142 on Windows, as the service claims to be by default.
OPERATOR_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/142.0.0.0 Safari/537.36")
OPERATOR_BRANDS = [{"brand": "Chromium", "version": "142"}, {"brand": "Google Chrome", "version": "142"},
                   {"brand": "Not_A Brand", "version": "99"}]
CHROMIUMS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")


class DrillFailed(Exception):
    """A step of the story did not happen as it should; the message says which and what was seen."""


@dataclass
class DrillResult:
    refusals: list[dict] = field(default_factory=list)       # the submits' error bodies
    health: dict = field(default_factory=dict)
    doctor: dict = field(default_factory=dict)
    witness_settings: list[str] = field(default_factory=list)
    capture: dict = field(default_factory=dict)
    final_task: dict = field(default_factory=dict)
    operator_session: str = ""                               # the session ids the run used: secrets
    client_token: str = ""
    logs: str = ""                                            # every log line of the run
    seconds: float = 0.0


def run_drill(drift: str = DEFAULT_DRIFT, say: Callable[[str], None] = print, keep_logs: bool = False) -> DrillResult:
    """The story, step by step; DrillFailed at the first step that does not hold."""
    started = time.monotonic()
    token = f"drill-client-{secrets.token_hex(8)}"
    result = DrillResult(operator_session=f"drill-operator-{secrets.token_hex(8)}", client_token=token)

    def step(text: str) -> None:
        say(f"[{time.monotonic() - started:5.1f}s] {text}")

    with running_stack(sandbox_env={"SANDBOX_DRIFT": drift}, keep_logs=keep_logs) as stack:
        step(f"Jimeng moved: the sandbox runs with SANDBOX_DRIFT={drift}")
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        # No idle keep-alive connection for a stopping service to wait on (a closed Session leaves them open).
        http.headers["Connection"] = "close"
        for _ in range(3):
            resp = http.post(f"{stack.service_url}/v1/videos/generations", timeout=TIMEOUT,
                             json={"prompt": f"{FAST} a paper boat", "model": MODEL})
            result.refusals.append(resp.json())
            if resp.status_code != 502 or resp.json()["error"]["code"] != "upstream_changed":
                raise DrillFailed(f"a submit should fail with 502 upstream_changed, got {resp.status_code} {resp.text}")
        step(f"1. submits fail: 502 upstream_changed ({result.refusals[0]['error']['message'][:90]}...)")

        result.health = http.get(f"{stack.service_url}/healthz", timeout=TIMEOUT).json()
        if result.health.get("upstream") != "degraded":
            raise DrillFailed(f"/healthz should say the upstream is degraded: {result.health}")
        step(f"2. /healthz: upstream {result.health['upstream']}, {result.health['upstream_refusals']} refusals "
             f"as outdated in the last {result.health['upstream_window_seconds']} s")

        result.doctor = http.get(f"{stack.service_url}/v1/doctor", timeout=(5, 90)).json()
        checks = {c["name"]: c for c in result.doctor["accounts"][0]["checks"]}
        failed = [f"{c['name']} ({c['code']})" for c in checks.values() if c["status"] == "failed"]
        result.witness_settings = checks["page_witness"].get("settings") or []
        if not failed or not result.witness_settings:
            raise DrillFailed(f"the doctor should name the failing calls and the page witness the settings: {checks}")
        step(f"3. GET /v1/doctor: failed {', '.join(failed)}; the page witness says: "
             + " ".join(result.witness_settings))

        with tempfile.TemporaryDirectory(prefix="jimeng-drill-") as scratch:
            har = Path(scratch) / "jimeng.har"
            record_har(f"{stack.sandbox_url}{PAGE}", result.operator_session, har)
            resp = http.post(f"{stack.service_url}/v1/doctor/capture", data=har.read_bytes(),
                             headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
            size = har.stat().st_size
        if resp.status_code != 200 or not resp.json()["settings"]:
            raise DrillFailed(f"the capture diff should name the settings: {resp.status_code} {resp.text[:500]}")
        result.capture = resp.json()
        settings = result.capture["settings"]
        step(f"4. a HAR recorded by Chromium ({size // 1024} KB) through POST /v1/doctor/capture: apply "
             + " ".join(settings))

        _stop_service(stack)
        fixed_env = dict(line.split("=", 1) for line in settings)
        with running_service(stack, "service-fixed", service_env=fixed_env) as fixed_url:
            step("5. the service restarted with " + " ".join(settings))
            result.final_task = _submit_until_finished(http, fixed_url)
            if result.final_task.get("status") != "completed":
                raise DrillFailed(f"after the fix a submit should complete: {result.final_task}")
            step(f"   a submit completes again: {result.final_task['task_id'][:16]}... "
                 f"{result.final_task['result']['url'][:60]}")
            after = http.get(f"{fixed_url}/healthz", timeout=TIMEOUT).json()
            step(f"   /healthz: upstream {after['upstream']}" + (
                f" until the refusals before the fix leave its {after['upstream_window_seconds']} s window"
                if after["upstream"] == "degraded" else ""))
        result.logs = "\n".join(p.read_text(errors="replace") for p in sorted(stack.log_dir.glob("*.log")))
    result.seconds = time.monotonic() - started
    return result


def _stop_service(stack: Stack) -> None:
    """Stop the stack's own service (the one this drill started: its gunicorn master's process group)."""
    try:
        os.killpg(stack.service_pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            requests.get(f"{stack.service_url}/ping", timeout=0.5)
        except requests.RequestException:
            return
        time.sleep(0.1)


def _submit_until_finished(http: requests.Session, service_url: str) -> dict:
    resp = http.post(f"{service_url}/v1/videos/generations", json={"prompt": f"{FAST} a paper boat", "model": MODEL},
                     timeout=TIMEOUT)
    if resp.status_code != 200:
        raise DrillFailed(f"after the fix the submit was refused: {resp.status_code} {resp.text}")
    task_id = resp.json()["task_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = http.get(f"{service_url}/v1/videos/tasks/{task_id}", timeout=TIMEOUT).json()
        if task.get("status") in ("completed", "failed"):
            return task
        time.sleep(0.2)
    raise DrillFailed(f"the task {task_id} did not finish within 30 s")


# -- the operator's browser --------------------------------------------------------------------------

def chromium() -> str:
    """Debian's Chromium (the binary behind its wrapper script), or BROWSER_EXECUTABLE."""
    configured = os.environ.get("BROWSER_EXECUTABLE", "")
    for candidate in (configured, *CHROMIUMS):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    if not found:
        raise DrillFailed("no Chromium: install Debian's chromium-headless-shell (make test installs it)")
    return found


def operator_cookies(session_id: str, host: str) -> list[dict]:
    """A logged-in Jimeng browser's session cookies (protocol 2.4), for the page's host."""
    web_id = str(7 * 10 ** 18 + int.from_bytes(session_id.encode()[:8].ljust(8, b"0"), "big") % 10 ** 18)
    guard = f"{session_id}%7C{int(time.time())}%7C5184000%7CMon%2C+03-Feb-2025+08%3A17%3A09+GMT"
    pairs = {"_tea_web_id": web_id, "sid_guard": guard, "sid_tt": session_id, "sessionid": session_id,
             "sessionid_ss": session_id, "uid_tt": secrets.token_hex(16)}
    return [{"name": k, "value": v, "domain": host, "path": "/"} for k, v in pairs.items()]


def record_har(page_url: str, session_id: str, har_path: Path, *, settle_seconds: float = 5.0) -> None:
    """Open Jimeng's page logged in, let it make its calls, and save the network log as a HAR file."""
    from urllib.parse import urlsplit

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True, chromium_sandbox=False,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            context = browser.new_context(record_har_path=str(har_path), user_agent=OPERATOR_UA, locale="zh-CN")
            page = context.new_page()
            context.new_cdp_session(page).send("Emulation.setUserAgentOverride", {
                "userAgent": OPERATOR_UA, "acceptLanguage": "zh-CN", "userAgentMetadata": {
                    "brands": OPERATOR_BRANDS, "fullVersion": "142.0.0.0", "platform": "Windows",
                    "platformVersion": "10.0.0", "architecture": "x86", "model": "", "mobile": False,
                    "bitness": "64", "wow64": False}})
            context.add_cookies(operator_cookies(session_id, urlsplit(page_url).hostname or ""))
            with page.expect_response(lambda r: "/mweb/v1/get_history" in r.url, timeout=settle_seconds * 1000):
                page.goto(page_url, wait_until="domcontentloaded")
            page.wait_for_load_state("networkidle", timeout=settle_seconds * 1000)
            context.close()          # writes the HAR
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drift", default=os.environ.get("SANDBOX_DRIFT") or DEFAULT_DRIFT,
                        help=f"what Jimeng changed (SANDBOX_DRIFT syntax; default {DEFAULT_DRIFT})")
    parser.add_argument("--keep-logs", action="store_true", help="keep the stack's logs")
    args = parser.parse_args(argv)
    exit_on_sigterm()
    try:
        result = run_drill(args.drift, keep_logs=args.keep_logs)
    except KeyboardInterrupt:
        print("\ninterrupted; the stack is stopped", file=sys.stderr)
        return 130
    except (DrillFailed, StackError) as exc:
        print(f"drill failed: {exc}", file=sys.stderr)
        return 1
    print(f"drill done in {result.seconds:.1f} s: Jimeng moved, the doctor named the fix, a restart applied it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
