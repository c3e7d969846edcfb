"""Hostile captures under gunicorn (the e2e stack: one gevent worker, so every request below shares
it): a capture nested deeper than any HAR is refused at once and kills nothing, and while the
largest captures within the limits are read and compared, the worker answers its other requests."""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sandbox.stack import Stack
from tests.e2e.conftest import session_for

pytestmark = pytest.mark.e2e
API = "https://jimeng.jianying.com"
PATHS = ["/mweb/v1/get_history_by_ids", "/mweb/v1/get_history", "/mweb/v1/get_upload_token",
         "/mweb/v1/get_local_item_list", "/commerce/v1/benefits/user_credit", "/commerce/v1/benefits/credit_receive",
         "/passport/account/info/v2", "/mweb/v1/video_generate/get_common_config", "/mweb/v1/workspace/list",
         "/mweb/v1/algo_proxy", "/mweb/v1/aigc_draft/generate"]
CAPTURE_TIMEOUT = (5, 120)


def workers(stack: Stack) -> set[int]:
    """The gunicorn master's children (its workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == \
                    stack.service_pid:
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def capture_of(body: str) -> bytes:
    """One call to each path our client calls, every one with this body."""
    entries = [{"request": {"method": "POST", "url": f"{API}{path}?aid=513695", "headers": [],
                            "postData": {"mimeType": "application/json", "text": body}}} for path in PATHS]
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


CAPTURES = {
    # 43 MB: bodies of 3.9 MB (under the 4 MB a HAR's body is read to), few keys, long values
    "large bodies": lambda: capture_of(json.dumps({"history_ids": ["1"], "a": {"b": ["y" * 1000] * 3900}})),
    # 1.7 MB: bodies of 9,900 fields each, just under the values compared, all differences
    "many fields": lambda: capture_of(json.dumps({f"z{i}": [i] for i in range(9_900)})),
}


@pytest.mark.parametrize("name", list(CAPTURES))
def test_the_worker_answers_others_while_it_reads_and_compares_a_large_capture(stack, name):
    capture = CAPTURES[name]()
    pings: list[float] = []
    done = threading.Event()

    def ping() -> None:
        http = requests.Session()
        while not done.is_set():
            started = time.monotonic()
            http.get(f"{stack.service_url}/ping", timeout=60).raise_for_status()
            pings.append(time.monotonic() - started)
            time.sleep(0.02)

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        resp = session_for("e2e-capture-load-0123456789").post(
            f"{stack.service_url}/v1/doctor/capture", data=capture, timeout=CAPTURE_TIMEOUT,
            headers={"Content-Type": "application/json"})
        took = time.monotonic() - started
    finally:
        done.set()
        pinger.join()

    assert resp.status_code == 200, resp.text[:300]
    assert took > 0.5, "the capture is too light to tell"
    assert max(pings) < min(1.0, took / 2), (max(pings), took)
    assert sum(bool(call["not_compared"]) for call in resp.json()["comparison"]) >= 9     # it meets the bounds


def test_captures_nested_deeper_than_any_har_are_refused_at_once_and_kill_no_worker(stack):
    before = workers(stack)
    deep = ('{"log": {"pages": ' + "[" * 200_000 + "]" * 200_000 + ', "entries": []}}').encode()
    http = session_for("e2e-capture-deep-0123456789")

    def send(_: int) -> requests.Response:
        return http.post(f"{stack.service_url}/v1/doctor/capture", data=deep, timeout=CAPTURE_TIMEOUT,
                         headers={"Content-Type": "application/json"})

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(4)))

    assert time.monotonic() - started < 10
    assert [a.status_code for a in answers] == [400] * 4
    assert {a.json()["error"]["code"] for a in answers} == {"invalid_capture"}
    assert requests.get(f"{stack.service_url}/ping", timeout=5).status_code == 200
    assert workers(stack) == before
