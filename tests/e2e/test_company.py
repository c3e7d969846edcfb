"""Company mode end to end: API keys and a pool of three sandbox accounts behind real gunicorn.

Once on the default configuration (the host's SQLite store under DATA_DIR, one worker per core plus
one, as gunicorn.conf.py decides), once with a real redis-server shared by two workers.
The sandbox plays Jimeng strictly: one account has no credits, one allows a single running task
(ret 1310 past it, although the pool file allows it two), one is roomy.
"""
from __future__ import annotations

import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox.checks import fingerprint
from sandbox.stack import running_stack
from tests.api.test_metrics import sample
from tests.e2e.conftest import TIMEOUT

pytestmark = pytest.mark.e2e
SLOW = "[sandbox:queue=120] [sandbox:generate=1]"     # tasks stay running for the whole test
BURST = 20


def write(path, data) -> None:
    """Replace a watched file with a visibly new mtime (the service re-reads it on change)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


@pytest.fixture(scope="module", params=["sqlite-default-workers", "redis-2-workers"])
def company(request, tmp_path_factory):
    tag = secrets.token_hex(4)
    sessions = {"empty": f"e2e-empty-{tag}", "one": f"e2e-one-{tag}", "big": f"e2e-big-{tag}"}
    keys = {"k1": f"k1-{secrets.token_hex(16)}", "k2": f"k2-{secrets.token_hex(16)}",
            "ops": f"ops-{secrets.token_hex(16)}"}
    folder = tmp_path_factory.mktemp("company")
    keys_file, accounts_file = folder / "keys.json", folder / "accounts.json"
    write(keys_file, {"keys": [{"name": "k1", "key": keys["k1"]}, {"name": "k2", "key": keys["k2"]},
                               {"name": "ops", "key": keys["ops"], "admin": True}]})
    write(accounts_file, {"accounts": [
        {"label": "empty", "session_id": sessions["empty"], "max_parallel": 5},
        {"label": "one", "session_id": sessions["one"], "max_parallel": 2},
        {"label": "big", "session_id": sessions["big"], "max_parallel": 30}]})
    metrics_dir = folder / "metrics"
    env = {"API_KEYS_FILE": str(keys_file), "JIMENG_ACCOUNTS_FILE": str(accounts_file),
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    workers = None                       # gunicorn.conf.py decides: cores + 1
    if request.param.startswith("redis"):
        env["REDIS_URL"], workers = request.getfixturevalue("redis_url"), 2
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    with running_stack(service_env=env, workers=workers) as stack:
        sandbox = requests.Session()
        assert sandbox.post(f"{stack.sandbox_url}/_sandbox/credits", timeout=TIMEOUT, json={
            "session": sessions["empty"], "credits": 0, "claimable": False}).status_code == 200
        assert sandbox.post(f"{stack.sandbox_url}/_sandbox/sessions", timeout=TIMEOUT, json={
            "session": sessions["one"], "max_parallel": 1}).status_code == 200
        yield {"stack": stack, "sessions": sessions, "keys": keys, "accounts_file": accounts_file,
               "metrics_dir": metrics_dir, "workers": workers or (os.cpu_count() or 1) + 1}


def workers_that_served(metrics_dir, route: str) -> set[str]:
    """The pids of the workers that answered `route`, from their prometheus_client multiprocess files."""
    from prometheus_client.mmap_dict import MmapedDict

    pids = set()
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "jimeng_api_requests_total" and labels.get("route") == route and value > 0:
                pids.add(path.stem.rsplit("_", 1)[-1])
    return pids


def answering_workers(stack, metrics_dir, want: int) -> set[str]:
    """The workers seen answering /ping, pinged on fresh connections until `want` are seen (bounded)."""
    for _ in range(25):
        pids = workers_that_served(metrics_dir, "/ping")
        if len(pids) >= want:
            return pids
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda _: requests.get(f"{stack.service_url}/ping", timeout=TIMEOUT), range(40)))
    return workers_that_served(metrics_dir, "/ping")


def client_for(key: str) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    return http


def records_by_session(stack) -> dict[str, list[dict]]:
    records = requests.get(f"{stack.sandbox_url}/_sandbox/records", timeout=TIMEOUT).json()["records"]
    found: dict[str, list[dict]] = {}
    for record in records:
        found.setdefault(record["session"], []).append(record)
    return found


def test_a_burst_by_two_keys_lands_on_eligible_accounts_only(company):
    stack, sessions, keys = company["stack"], company["sessions"], company["keys"]
    clients = {name: client_for(keys[name]) for name in ("k1", "k2")}

    def submit(i: int):
        name = "k1" if i % 2 else "k2"
        # A connection of its own each: the kernel hands them to whichever worker accepts first.
        resp = clients[name].post(f"{stack.service_url}/v1/videos/generations", headers={"Connection": "close"},
                                  json={"prompt": f"burst {i} {SLOW}"}, timeout=TIMEOUT)
        return name, resp.status_code, resp.json()

    with ThreadPoolExecutor(BURST) as pool:
        answers = list(pool.map(submit, range(BURST)))
    # No 1310 (nor any other refusal) reaches a client while the roomy account is free.
    assert [status for _, status, _ in answers] == [200] * BURST, [a for a in answers if a[1] != 200]

    by_session = records_by_session(stack)
    assert fingerprint(sessions["empty"]) not in by_session            # no credits: never chosen
    assert len(by_session.get(fingerprint(sessions["one"]), [])) <= 1  # Jimeng's own limit held
    assert sum(len(by_session.get(fingerprint(s), [])) for s in sessions.values()) == BURST

    # Each key sees only its own tasks.
    tasks = {"k1": [], "k2": []}
    for name, _, body in answers:
        tasks[name].append(body["task_id"])
    for owner, other in (("k1", "k2"), ("k2", "k1")):
        mine = clients[owner].get(f"{stack.service_url}/v1/videos/tasks/{tasks[owner][0]}", timeout=TIMEOUT)
        assert mine.status_code == 200 and mine.json()["status"] in ("pending", "processing")
        theirs = clients[other].get(f"{stack.service_url}/v1/videos/tasks/{tasks[owner][0]}", timeout=TIMEOUT)
        assert theirs.status_code == 404
        batch = clients[owner].post(f"{stack.service_url}/v1/videos/tasks/batch", timeout=TIMEOUT,
                                    json={"task_ids": tasks["k1"] + tasks["k2"]}).json()["data"]
        statuses = {item["task_id"]: item["status"] for item in batch}
        assert all(statuses[t] != "not_found" for t in tasks[owner])
        assert all(statuses[t] == "not_found" for t in tasks[other])

    # The operator's view agrees, and shows no secret.
    ops = client_for(keys["ops"]).get(f"{stack.service_url}/v1/accounts", timeout=TIMEOUT)
    assert ops.status_code == 200
    assert not any(s in ops.text for s in sessions.values())
    rows = {row["label"]: row for row in ops.json()["data"]}
    assert rows["empty"]["credits"] == 0 and rows["empty"]["running"] == 0
    assert rows["one"]["running"] <= 1
    assert rows["one"]["running"] + rows["big"]["running"] == BURST
    assert client_for(keys["k1"]).get(f"{stack.service_url}/v1/accounts", timeout=TIMEOUT).status_code == 403

    # The failover really ran: the pool file lets 'one' take 2 tasks, Jimeng only 1, and the pool puts
    # the least loaded account first, so 'one' was asked a second time, answered 1310 and cooled down.
    assert rows["one"]["last_error"]["upstream_code"] == "1310" and rows["one"]["cooldown_seconds"] > 0
    text = requests.get(f"{stack.service_url}/metrics", timeout=TIMEOUT).text
    assert sample(text, "jimeng_api_pool_submits_total", account="one", outcome="concurrency_limit") >= 1
    assert sample(text, "jimeng_api_pool_cooldowns_total", account="one", reason="concurrency_limit") >= 1
    # The per-account gauges agree with /v1/accounts, whichever worker answers the scrape.
    for label in ("empty", "one", "big"):
        assert sample(text, "jimeng_api_pool_running_tasks", account=label) == rows[label]["running"]
    assert sample(text, "jimeng_api_pool_credits", account="empty") == 0
    assert sample(text, "jimeng_api_pool_cooldown_seconds", account="one") > 0
    assert not any(s in text for s in sessions.values())
    # Each run really has several workers answering (each counts into a file of its own). Whether
    # both took part of this very burst is the kernel's choice; it often, not always, spreads it.
    assert len(answering_workers(stack, company["metrics_dir"], company["workers"])) == company["workers"]


def test_workers_never_exceed_an_accounts_parallel_limit(company):
    """Every worker takes slots from the same state: of many concurrent submits, exactly the limit pass."""
    stack, keys = company["stack"], company["keys"]
    solo = f"e2e-solo-{secrets.token_hex(4)}"
    write(company["accounts_file"], {"accounts": [{"label": "solo", "session_id": solo, "max_parallel": 3}]})
    http = client_for(keys["k1"])

    def submit(i: int) -> int:
        resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"race {i} {SLOW}"},
                         timeout=TIMEOUT)
        if resp.status_code != 200:
            assert resp.json()["error"]["code"] == "concurrency_limit" and resp.headers["Retry-After"]
        return resp.status_code

    with ThreadPoolExecutor(BURST) as pool:
        statuses = list(pool.map(submit, range(BURST)))
    assert statuses.count(200) == 3 and statuses.count(429) == BURST - 3
    assert len(records_by_session(stack)[fingerprint(solo)]) == 3


def test_an_account_removed_from_the_file_leaves_its_tasks_410(company):
    stack, keys = company["stack"], company["keys"]
    http = client_for(keys["k2"])
    first = f"e2e-first-{secrets.token_hex(4)}"
    write(company["accounts_file"], {"accounts": [{"label": "first", "session_id": first, "max_parallel": 2}]})
    task = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"x {SLOW}"},
                     timeout=TIMEOUT).json()["task_id"]
    write(company["accounts_file"], {"accounts": [{"label": "second", "session_id": f"{first}-b"}]})
    resp = http.get(f"{stack.service_url}/v1/videos/tasks/{task}", timeout=TIMEOUT)
    assert resp.status_code == 410 and resp.json()["error"]["code"] == "account_removed"


def sandbox_rule(stack, session: str, **rule) -> None:
    resp = requests.post(f"{stack.sandbox_url}/_sandbox/sessions", json={"session": session, **rule}, timeout=TIMEOUT)
    assert resp.status_code == 200, resp.text


def accounts_view(stack, keys) -> dict[str, dict]:
    rows = client_for(keys["ops"]).get(f"{stack.service_url}/v1/accounts", timeout=TIMEOUT).json()["data"]
    return {row["label"]: row for row in rows}


def test_an_expired_login_fails_over_and_cools_its_account_down(company):
    stack, keys = company["stack"], company["keys"]
    tag = secrets.token_hex(4)
    expired, alive = f"e2e-expired-{tag}", f"e2e-alive-{tag}"
    sandbox_rule(stack, expired, login_expired=True)       # every call of it answers ret 1015
    write(company["accounts_file"], {"accounts": [{"label": "expired", "session_id": expired, "max_parallel": 2},
                                                  {"label": "alive", "session_id": alive, "max_parallel": 2}]})
    http = client_for(keys["k1"])
    for i in range(2):
        resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"login {i} {SLOW}"},
                         timeout=TIMEOUT)
        assert resp.status_code == 200, resp.text
    by_session = records_by_session(stack)
    assert fingerprint(expired) not in by_session and len(by_session[fingerprint(alive)]) == 2
    rows = accounts_view(stack, keys)
    assert rows["expired"]["last_error"]["code"] == "token_invalid"
    assert rows["expired"]["last_error"]["upstream_code"] == "1015"
    assert rows["expired"]["cooldown_seconds"] > 60                     # POOL_COOLDOWN_SECONDS, 600 by default
    assert rows["alive"]["cooldown_seconds"] == 0 and rows["alive"]["running"] == 2


def risky_submit(stack, keys, accounts_file):
    """A roomy account already running one task, and a fresh risky one the pool therefore asks first."""
    tag = secrets.token_hex(4)
    risky, calm = f"e2e-risky-{tag}", f"e2e-calm-{tag}"
    sandbox_rule(stack, risky, risky=True)                 # generate answers the ret 4013 risk refusal
    calm_entry = {"label": f"calm-{tag}", "session_id": calm, "max_parallel": 2}
    http = client_for(keys["k2"])
    write(accounts_file, {"accounts": [calm_entry]})
    first = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"calm {SLOW}"}, timeout=TIMEOUT)
    assert first.status_code == 200, first.text
    write(accounts_file, {"accounts": [calm_entry, {"label": f"risky-{tag}", "session_id": risky, "max_parallel": 2}]})
    resp = http.post(f"{stack.service_url}/v1/videos/generations", json={"prompt": f"flagged {SLOW}"},
                     timeout=TIMEOUT)
    by_session = records_by_session(stack)
    assert fingerprint(risky) not in by_session
    rows = accounts_view(stack, keys)
    assert rows[f"risky-{tag}"]["last_error"]["upstream_code"] == "4013"
    assert rows[f"risky-{tag}"]["cooldown_seconds"] > 60
    return resp, len(by_session[fingerprint(calm)])


def test_a_risk_refusal_reaches_the_client_and_is_not_tried_elsewhere(company):
    resp, calm_tasks = risky_submit(company["stack"], company["keys"], company["accounts_file"])
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "risk_control"
    assert calm_tasks == 1                                  # the flagged prompt never reached the other account


@pytest.fixture(scope="module")
def failover(tmp_path_factory):
    """One worker, in-memory state, POOL_FAILOVER=1."""
    folder = tmp_path_factory.mktemp("failover")
    keys = {"k2": f"k2-{secrets.token_hex(16)}", "ops": f"ops-{secrets.token_hex(16)}"}
    keys_file, accounts_file = folder / "keys.json", folder / "accounts.json"
    write(keys_file, {"keys": [{"name": "k2", "key": keys["k2"]}, {"name": "ops", "key": keys["ops"], "admin": True}]})
    write(accounts_file, {"accounts": [{"label": "placeholder", "session_id": f"e2e-p-{secrets.token_hex(4)}"}]})
    env = {"API_KEYS_FILE": str(keys_file), "JIMENG_ACCOUNTS_FILE": str(accounts_file), "POOL_FAILOVER": "1"}
    with running_stack(service_env=env, workers=1) as stack:
        yield {"stack": stack, "keys": keys, "accounts_file": accounts_file}


def test_pool_failover_1_moves_a_risk_refusal_to_the_next_account(failover):
    resp, calm_tasks = risky_submit(failover["stack"], failover["keys"], failover["accounts_file"])
    assert resp.status_code == 200, resp.text
    assert calm_tasks == 2
