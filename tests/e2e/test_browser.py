"""End to end through the browser transport: gunicorn, the strict sandbox and a real headless Chromium.

The sandbox refuses Seedance 2.0 / 2.0 Fast in CN and every generate abroad unless the call carries
the signatures its page script adds (sandbox/shark.py), so a task that completes here went through
the page. The sandbox's call log shows which calls were made.
"""
from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from app.jimeng import constants
from sandbox.stack import Stack, running_stack
from tests.e2e.conftest import FAST, TIMEOUT, poll_until_finished, session_for

pytestmark = pytest.mark.e2e

GENERATE = "/mweb/v1/aigc_draft/generate"
PAGE = "/ai-tool/video/generate"


def calls(stack: Stack) -> dict:
    return requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]


def clear_calls(stack: Stack) -> None:
    requests.delete(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT)


def browser_state(stack: Stack) -> dict:
    return requests.get(f"{stack.service_url}/healthz", timeout=TIMEOUT).json()["browser"]


def post(stack: Stack, http: requests.Session, **fields) -> requests.Response:
    return http.post(f"{stack.service_url}/v1/videos/generations", json=fields, timeout=(5, 90))


def completes(stack: Stack, http: requests.Session, **fields) -> dict:
    resp = post(stack, http, **fields)
    assert resp.status_code == 200, resp.text
    final = poll_until_finished(stack, http, resp.json()["task_id"])[-1]
    assert final["status"] == "completed", final
    return final


def cn_token() -> requests.Session:
    return session_for(f"e2e-browser-{secrets.token_hex(6)}")


def us_token() -> requests.Session:
    return session_for(f"us-e2e-browser-{secrets.token_hex(6)}")


@pytest.mark.parametrize("model", ["jimeng-video-seedance-2.0", "jimeng-video-seedance-2.0-fast"])
def test_seedance_2_with_a_cn_token_completes_through_the_browser(stack, model):
    http = cn_token()
    clear_calls(stack)

    completes(stack, http, prompt=f"{FAST} a paper boat", model=model)

    seen = calls(stack)
    assert seen[GENERATE] in (1, 2)            # 2: refused direct once, then signed (auto learns it)
    assert browser_state(stack)["state"] == "running"
    log = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
    generates = [c for c in log if c["path"] == GENERATE]
    assert generates[-1]["page_signed"]        # the accepted one came through the page
    assert [c["page_signed"] for c in generates[:-1]] in ([], [False])   # at most the refused direct try


def test_auto_remembers_the_protected_model_and_goes_to_the_browser_at_once(stack):
    http = cn_token()
    completes(stack, http, prompt=f"{FAST} first", model="jimeng-video-seedance-2.0")
    clear_calls(stack)

    completes(stack, http, prompt=f"{FAST} second", model="jimeng-video-seedance-2.0")

    assert calls(stack)[GENERATE] == 1


def test_unprotected_cn_models_stay_direct(stack):
    http = cn_token()
    clear_calls(stack)
    completes(stack, http, prompt=f"{FAST} a kite", model="jimeng-video-3.5-pro")
    seen = calls(stack)
    assert seen[GENERATE] == 1 and PAGE not in seen    # a fresh account opened no page


def test_a_us_token_video_completes_through_the_browser(stack):
    http = us_token()
    clear_calls(stack)

    completes(stack, http, prompt=f"{FAST} a desert road", model="jimeng-video-3.5-pro")

    seen = calls(stack)
    assert seen[GENERATE] == 1                 # abroad: the browser at once, never a refused direct try
    assert seen[PAGE] == 1


def test_the_page_loads_only_what_signing_needs(stack):
    http = us_token()
    clear_calls(stack)
    completes(stack, http, prompt=f"{FAST} a lake", model="jimeng-video-3.5-pro")
    loaded = calls(stack)
    assert loaded[PAGE] == 1
    assert not any(path.endswith((".css", ".png")) for path in loaded), loaded   # styles and images blocked


def test_omni_reference_goes_through_the_browser(stack):
    http = cn_token()
    clear_calls(stack)
    image = f"{stack.sandbox_url}/assets/sample.png"
    completes(stack, http, prompt=f"{FAST} @image_file_1 waves", model="jimeng-video-seedance-2.0",
              function_mode="omni_reference", image_file_1=image)
    assert calls(stack).get(PAGE) == 1


def test_a_crashed_browser_is_relaunched(stack):
    http = us_token()
    completes(stack, http, prompt=f"{FAST} before", model="jimeng-video-3.5-pro")
    before = browser_state(stack)
    main_pid = before["browser_pids"][0]

    os.kill(main_pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(main_pid)], timeout=10) if psutil.pid_exists(main_pid) else None

    completes(stack, us_token(), prompt=f"{FAST} after", model="jimeng-video-3.5-pro")
    after = browser_state(stack)
    assert after["launches"] == before["launches"] + 1
    assert main_pid not in after["browser_pids"]


def test_healthz_reports_the_browser_without_starting_it():
    with running_stack(service_env={"BROWSER_TRANSPORT": "auto"}) as fresh:
        assert browser_state(fresh)["state"] == "not_started"
        assert browser_state(fresh)["state"] == "not_started"   # asking did not start it


def test_with_the_browser_off_seedance_2_is_risk_control_and_nothing_is_created():
    with running_stack(service_env={"BROWSER_TRANSPORT": "off"}) as off:
        http = cn_token()
        before = http.post(f"{off.service_url}/token/points", timeout=TIMEOUT).json()

        resp = post(off, http, prompt="a paper boat", model="jimeng-video-seedance-2.0")

        assert resp.status_code == 403, resp.text
        error = resp.json()["error"]
        assert error["code"] == "risk_control"
        assert "生成失败，疑似存在异常行为，请重新尝试" in error["message"]     # Jimeng's own words
        assert requests.get(f"{off.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"] == []
        assert calls(off)[GENERATE] == 1 and PAGE not in calls(off)         # never resent
        assert http.post(f"{off.service_url}/token/points", timeout=TIMEOUT).json() == before
        assert browser_state(off) == {"transport": "off", "state": "off"}


def test_no_usable_chromium_answers_503_browser_unavailable_and_serves_the_rest():
    env = {"BROWSER_EXECUTABLE": "/nonexistent/chromium"}
    with running_stack(service_env=env) as broken:
        http = us_token()
        resp = post(broken, http, prompt="x", model="jimeng-video-3.5-pro")
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"]["code"] == "browser_unavailable"
        assert "BROWSER_EXECUTABLE" in resp.json()["error"]["message"]
        assert GENERATE not in calls(broken)                                 # nothing was sent
        cn = cn_token()
        refused = post(broken, cn, prompt="x", model="jimeng-video-seedance-2.0")   # protected in CN
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "browser_unavailable"
        assert "BROWSER_EXECUTABLE" in refused.json()["error"]["message"]
        assert requests.get(f"{broken.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"] == []
        completes(broken, cn, prompt=f"{FAST} direct still works", model="jimeng-video-3.5-pro")
        health = requests.get(f"{broken.service_url}/healthz", timeout=TIMEOUT)
        assert health.status_code == 200 and health.json()["browser"]["state"] == "unavailable"


def test_a_full_browser_queue_answers_503_service_busy():
    with running_stack(service_env={"BROWSER_MAX_QUEUE": "1"}) as small:
        requests.post(f"{small.sandbox_url}/_sandbox/faults", json={"path": GENERATE, "delay": 4}, timeout=TIMEOUT)
        first: dict = {}
        slow = threading.Thread(target=lambda: first.update(resp=post(small, us_token(), prompt="slow",
                                                                       model="jimeng-video-3.5-pro")))
        slow.start()
        deadline = time.monotonic() + 60
        while GENERATE not in calls(small):       # the first call is inside the browser, waiting on Jimeng
            assert time.monotonic() < deadline, "the first call never reached the sandbox"
            time.sleep(0.05)

        busy = post(small, us_token(), prompt="second", model="jimeng-video-3.5-pro")
        slow.join(timeout=60)

        assert busy.status_code == 503, busy.text
        assert busy.json()["error"]["code"] == "service_busy"
        assert first["resp"].status_code == 200, first["resp"].text
        assert calls(small)[GENERATE] == 1


def test_seedance_2_5_with_a_cn_token_completes_without_the_browser(stack):
    http = session_for(f"vip-e2e-browser-{secrets.token_hex(6)}")    # 2.5 is offered to VIP accounts
    clear_calls(stack)
    completes(stack, http, prompt=f"{FAST} a night market", model="jimeng-video-seedance-2.5")
    seen = calls(stack)
    assert seen[GENERATE] == 1 and PAGE not in seen        # not protected (update 2.1): direct, at once


def test_idle_accounts_and_then_the_browser_are_closed():
    with running_stack(service_env={"BROWSER_IDLE_SECONDS": "1"}) as idle:
        completes(idle, us_token(), prompt=f"{FAST} soon idle", model="jimeng-video-3.5-pro")
        deadline = time.monotonic() + 60
        while browser_state(idle).get("state") != "idle":     # housekeeping runs every few seconds
            assert time.monotonic() < deadline, browser_state(idle)
            time.sleep(0.5)
        state = browser_state(idle)
        assert state["accounts"] == 0 and state["browser_pids"] == []

        completes(idle, us_token(), prompt=f"{FAST} awake again", model="jimeng-video-3.5-pro")
        assert browser_state(idle)["launches"] == 2


def test_the_browser_socket_is_private_and_the_browser_stops_with_the_service():
    with running_stack() as own:
        completes(own, us_token(), prompt=f"{FAST} private", model="jimeng-video-3.5-pro")
        state = browser_state(own)
        assert os.stat(own.log_dir / "browser.sock").st_mode & 0o077 == 0
        processes = [psutil.Process(pid) for pid in [state["pid"], *state["browser_pids"]]]

    gone, alive = psutil.wait_procs(processes, timeout=30)
    assert alive == []


def test_a_browser_crash_mid_submit_is_not_resent_and_the_answer_finds_the_task():
    with running_stack() as own:
        http = us_token()
        completes(own, http, prompt=f"{FAST} warm up", model="jimeng-video-3.5-pro")
        main_pid = browser_state(own)["browser_pids"][0]
        requests.post(f"{own.sandbox_url}/_sandbox/faults", json={"path": GENERATE, "delay": 3}, timeout=TIMEOUT)
        clear_calls(own)
        answer: dict = {}
        submit = threading.Thread(target=lambda: answer.update(resp=post(own, http, prompt=f"{FAST} crash",
                                                                         model="jimeng-video-3.5-pro")))
        submit.start()
        deadline = time.monotonic() + 60
        while GENERATE not in calls(own):          # the signed call has reached Jimeng
            assert time.monotonic() < deadline, "the call never reached the sandbox"
            time.sleep(0.05)

        os.kill(main_pid, signal.SIGKILL)
        submit.join(timeout=90)

        resp = answer["resp"]
        assert resp.status_code in (502, 503, 504), resp.text
        assert resp.headers.get("x-should-retry") == "false"
        task_id = resp.json()["error"]["task_id"]
        assert calls(own)[GENERATE] == 1                                   # never resent
        final = poll_until_finished(own, http, task_id)[-1]               # Jimeng had taken it
        assert final["status"] == "completed", final


def test_a_refusal_that_comes_back_through_the_browser_is_risk_control_and_sent_only_once():
    with running_stack() as own:          # its own process: nothing learned yet about this model
        requests.post(f"{own.sandbox_url}/_sandbox/faults", timeout=TIMEOUT, json={
            "path": GENERATE, "count": 2, "ret": "4013", "errmsg": "生成失败，疑似存在异常行为，请重新尝试"})

        resp = post(own, cn_token(), prompt="refused twice", model="jimeng-video-seedance-2.0-fast")

        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "risk_control"
        assert "生成失败，疑似存在异常行为，请重新尝试" in resp.json()["error"]["message"]
        assert calls(own)[GENERATE] == 2 and calls(own)[PAGE] == 1   # direct, then once through the page
        assert requests.get(f"{own.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"] == []


def test_concurrent_first_calls_of_one_account_share_one_context(stack):
    before = browser_state(stack)["accounts"] if browser_state(stack).get("state") == "running" else 0
    http = us_token()
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda i: post(stack, http, prompt=f"{FAST} together {i}",
                                               model="jimeng-video-3.5-pro"), range(4)))
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert browser_state(stack)["accounts"] == before + 1


def test_the_pages_fetch_tells_the_same_browser_as_its_user_agent(stack):
    http = cn_token()
    clear_calls(stack)

    completes(stack, http, prompt=f"{FAST} who is asking", model="jimeng-video-seedance-2.0")

    log = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
    from_the_page = [c["client"] for c in log if c["path"] == GENERATE and c["page_signed"]]
    assert from_the_page
    for client in from_the_page:
        assert "Headless" not in client["sec-ch-ua"] and "Headless" not in client["user-agent"]
        assert client["user-agent"] == constants.CHROME_UA
        assert client["sec-ch-ua"] == constants.SEC_CH_UA                 # the brands the UA claims
        assert client["sec-ch-ua-platform"] == constants.SEC_CH_UA_PLATFORM


def test_every_worker_signs_one_accounts_submits_through_the_one_shared_browser():
    """Two workers, one browser: whichever worker opened the account's context, the other's calls
    carry the same device ids as its cookies (a mismatch is Jimeng's 1019)."""
    with running_stack(workers=2) as two:
        token = f"e2e-two-workers-{secrets.token_hex(6)}"

        def submit(i: int) -> requests.Response:
            fresh = session_for(token)            # a new connection each time: both workers answer
            fresh.headers["Connection"] = "close"
            return post(two, fresh, prompt=f"{FAST} worker {i}", model="jimeng-video-seedance-2.0")

        answers = [submit(i) for i in range(8)]

        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        log = requests.get(f"{two.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
        assert sum(1 for c in log if c["path"] == GENERATE and c["page_signed"]) == 8
        assert browser_state(two)["accounts"] == 1


def test_calls_on_one_accounts_page_run_one_at_a_time(stack):
    """Two submits of one account at once: the second in-page fetch starts only when the first has
    its answer (the sandbox holds each for `delay` seconds and logs when each arrived)."""
    delay = 2.0
    http = us_token()
    completes(stack, http, prompt=f"{FAST} open the page", model="jimeng-video-3.5-pro")
    clear_calls(stack)
    requests.post(f"{stack.sandbox_url}/_sandbox/faults", json={"path": GENERATE, "delay": delay, "count": 2},
                  timeout=TIMEOUT)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda i: post(stack, http, prompt=f"{FAST} in turn {i}",
                                               model="jimeng-video-3.5-pro"), range(2)))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    log = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["calls"]
    arrived = sorted(c["time"] for c in log if c["path"] == GENERATE)
    assert len(arrived) == 2
    assert arrived[1] - arrived[0] >= delay - 0.05, arrived    # together, they would arrive at once


def test_an_in_page_fetch_past_browser_timeout_is_504_with_the_task_id_and_is_not_resent():
    with running_stack(service_env={"BROWSER_TIMEOUT": "5"}) as own:
        http = us_token()
        completes(own, http, prompt=f"{FAST} warm up", model="jimeng-video-3.5-pro")   # page loaded
        requests.post(f"{own.sandbox_url}/_sandbox/faults", json={"path": GENERATE, "delay": 8}, timeout=TIMEOUT)
        clear_calls(own)

        started = time.monotonic()
        resp = post(own, http, prompt=f"{FAST} too slow", model="jimeng-video-3.5-pro")
        took = time.monotonic() - started

        assert resp.status_code == 504, resp.text
        assert took < 8, took                                              # the timeout, not Jimeng's answer
        error = resp.json()["error"]
        assert error["code"] == "upstream_timeout"
        assert resp.headers.get("x-should-retry") == "false"
        task_id = error["task_id"]
        final = poll_until_finished(own, http, task_id)[-1]               # Jimeng took it after all
        assert final["status"] == "completed", final
        assert calls(own)[GENERATE] == 1                                   # never resent


def test_concurrent_first_browser_calls_on_a_fresh_host_are_all_answered():
    """Issue 21, 4: several first Seedance submits per worker at once, the browser process not yet
    started, under the default worker count. One greenlet starts the browser process while holding
    the start lock; the others of its worker must wait without blocking the process (a flock() on
    the held file froze the whole worker, the starting greenlet with it, for good). gevent's own
    monitor reports any greenlet that keeps the process from switching for seconds."""
    monitor = {"GEVENT_MONITOR_THREAD_ENABLE": "true", "GEVENT_MAX_BLOCKING_TIME": "3"}
    with running_stack(workers=None, service_env=monitor) as fresh:
        workers = len(psutil.Process(fresh.service_pid).children())
        assert browser_state(fresh)["state"] == "not_started"
        token = f"e2e-first-calls-{secrets.token_hex(6)}"

        def submit(i: int) -> requests.Response:
            http = session_for(token)
            http.headers["Connection"] = "close"          # each on its own connection: every worker takes some
            return post(fresh, http, prompt=f"{FAST} first call {i}", model="jimeng-video-seedance-2.0")

        calls_made = 3 * workers
        with ThreadPoolExecutor(max_workers=calls_made) as pool:
            answers = list(pool.map(submit, range(calls_made)))

        assert [a.status_code for a in answers] == [200] * calls_made, [a.text[:200] for a in answers]
        assert browser_state(fresh)["launches"] == 1          # one browser process, started once
        assert "appears to be blocked" not in (fresh.log_dir / "service.log").read_text(errors="replace")
