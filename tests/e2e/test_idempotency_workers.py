"""One charge per Idempotency-Key on the default configuration: several gunicorn workers, no Redis.

Requests with one key sent at the same moment, each on a connection of its own, land on whichever
worker the kernel wakes. Every worker must see the others' markers (the host's SQLite store under
DATA_DIR), so the sandbox gets exactly one task per key: identical repeats answer that task or 409,
and a key reused for another body, the other kind or the other route family answers 409, never a
second task. Each case is tried TRIALS times with fresh keys and accounts (on per-worker state a
pair landed on two workers in most trials). Once on the default configuration, once with Redis.
One account is one account however the Authorization header lists it: "A" and "A,A", "A,B" or
"B,A" with one key, while Jimeng does not list the task yet, is still one task.
"""
from __future__ import annotations

import secrets
import threading

import pytest
import requests

from sandbox.checks import fingerprint
from sandbox.stack import running_stack
from tests.e2e.conftest import TIMEOUT

pytestmark = pytest.mark.e2e
WORKERS = 3        # gunicorn.conf.py's default on 2 cores: cores + 1
TRIALS = 10
QUEUED = "[sandbox:queue=600]"

VIDEO = ("/v1/videos/generations", {"prompt": f"{QUEUED} a lighthouse"})
OTHER_BODY = ("/v1/videos/generations", {"prompt": f"{QUEUED} a windmill"})
IMAGE = ("/v1/images/generations", {"prompt": f"{QUEUED} a lighthouse", "async": True})
OPENAI = ("/v1/videos", {"prompt": f"{QUEUED} a lighthouse"})


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def stack(request):
    """The README's default (gunicorn.conf.py with several workers, REDIS_URL empty), and with Redis."""
    env = {"REDIS_URL": "", "LOG_LEVEL": "WARNING"}
    if request.param == "redis":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    with running_stack(service_env=env, workers=WORKERS) as running:
        yield running


def at_once(stack, token: str | list[str], key: str, requests_: list[tuple[str, dict]]) -> list[requests.Response]:
    """Send every request at the same moment, each on its own connection, all with `key` (`token`:
    the bearer of all, or each request's own)."""
    barrier = threading.Barrier(len(requests_))
    answers: list = [None] * len(requests_)
    bearers = token if isinstance(token, list) else [token] * len(requests_)

    def send(i: int) -> None:
        path, body = requests_[i]
        with requests.Session() as http:
            http.headers.update({"Authorization": f"Bearer {bearers[i]}", "Idempotency-Key": key})
            barrier.wait()
            answers[i] = http.post(f"{stack.service_url}{path}", json=body, timeout=TIMEOUT)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests_))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def tasks_at_the_sandbox(stack, token: str) -> int:
    records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
    return sum(1 for r in records if r["session"] == fingerprint(token))


def trial(stack, requests_: list[tuple[str, dict]]) -> tuple[int, list[int]]:
    """(tasks the sandbox made, the answers' statuses) for one burst on a fresh account and key."""
    token = f"e2e-idem-{secrets.token_hex(8)}"
    answers = at_once(stack, token, f"order-{secrets.token_hex(6)}", requests_)
    for resp in answers:
        assert resp.status_code in (200, 409), resp.text
        if resp.status_code == 409:
            err = resp.json()["error"]
            assert err["code"] == "idempotency_conflict" and err["task_id"], err
            assert resp.headers["x-should-retry"] == "false"
    return tasks_at_the_sandbox(stack, token), [r.status_code for r in answers]


@pytest.mark.parametrize("copies", [2, 5])
def test_identical_submits_at_once_make_one_task(stack, copies):
    results = [trial(stack, [VIDEO] * copies) for _ in range(TRIALS)]
    assert [tasks for tasks, _ in results] == [1] * TRIALS, results
    assert all(200 in statuses for _, statuses in results), results


@pytest.mark.parametrize("other", [OTHER_BODY, IMAGE], ids=["another-body", "the-other-kind"])
def test_a_key_reused_for_another_request_at_once_is_one_task_and_a_409(stack, other):
    results = [trial(stack, [VIDEO, other]) for _ in range(TRIALS)]
    assert [tasks for tasks, _ in results] == [1] * TRIALS, results
    assert all(sorted(statuses) == [200, 409] for _, statuses in results), results


def test_a_key_on_both_route_families_at_once_is_one_task(stack):
    """Our route and OpenAI's with one key: one task (answered twice, or once and a 409)."""
    results = [trial(stack, [VIDEO, OPENAI]) for _ in range(TRIALS)]
    assert [tasks for tasks, _ in results] == [1] * TRIALS, results
    assert all(200 in statuses for _, statuses in results), results


HIDDEN = ("/v1/videos/generations", {"prompt": f"{QUEUED} [sandbox:hide=30] a lighthouse"})
LISTINGS = {"A,A": lambda a, b: [a, f"{a},{a}"], "A,B": lambda a, b: [a, f"{a},{b}"],
            "B,A": lambda a, b: [f"{a},{b}", f"{b},{a}"]}


def listed_trial(stack, listing: str, concurrent: bool) -> tuple[int, list[int]]:
    """(tasks the sandbox made on either account, the answers' statuses): one key, two requests
    whose bearers list account A differently; Jimeng hides the task for 30 s."""
    a, b = (f"e2e-idem-{secrets.token_hex(8)}" for _ in range(2))
    bearers, key = LISTINGS[listing](a, b), f"order-{secrets.token_hex(6)}"
    if concurrent:
        answers = at_once(stack, bearers, key, [HIDDEN, HIDDEN])
    else:
        answers = [at_once(stack, bearer, key, [HIDDEN])[0] for bearer in bearers]
    for resp in answers:
        assert resp.status_code in (200, 409), resp.text
    return tasks_at_the_sandbox(stack, a) + tasks_at_the_sandbox(stack, b), [r.status_code for r in answers]


@pytest.mark.parametrize("concurrent", [True, False], ids=["at-once", "one-after-the-other"])
@pytest.mark.parametrize("listing", list(LISTINGS))
def test_one_account_listed_differently_by_the_bearer_is_one_task(stack, listing, concurrent):
    results = [listed_trial(stack, listing, concurrent) for _ in range(TRIALS)]
    assert [tasks for tasks, _ in results] == [1] * TRIALS, results
    assert all(200 in statuses for _, statuses in results), results
    if not concurrent:          # the repeat comes once the first was accepted: it answers that task
        assert all(statuses == [200, 200] for _, statuses in results), results
