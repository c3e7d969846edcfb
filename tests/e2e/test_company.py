"""Company mode end to end: API keys and a pool of three sandbox accounts behind real gunicorn.

Once with in-process state on one worker, once with a real redis-server shared by two workers.
The sandbox plays Jimeng strictly: one account has no credits, one allows a single running task
(ret 1310 past it, although the pool file allows it two), one is roomy.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sandbox.checks import fingerprint
from sandbox.stack import StackError, running_stack
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


@pytest.fixture(scope="module", params=["memory-1-worker", "redis-2-workers"])
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
    env = {"API_KEYS_FILE": str(keys_file), "JIMENG_ACCOUNTS_FILE": str(accounts_file)}
    workers = 1
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
        yield {"stack": stack, "sessions": sessions, "keys": keys, "accounts_file": accounts_file}


def test_an_in_memory_pool_refuses_several_workers_and_runs_one_by_default(tmp_path):
    """Each worker would count an account's tasks alone: gunicorn stops with the reason instead."""
    keys_file, accounts_file = tmp_path / "keys.json", tmp_path / "accounts.json"
    write(keys_file, {"keys": [{"name": "k1", "key": secrets.token_hex(16)}]})
    write(accounts_file, {"accounts": [{"label": "a1", "session_id": f"e2e-a1-{secrets.token_hex(4)}"}]})
    env = {"API_KEYS_FILE": str(keys_file), "JIMENG_ACCOUNTS_FILE": str(accounts_file), "REDIS_URL": ""}
    with pytest.raises(StackError, match="service exited with code 1") as refused:
        with running_stack(service_env=env, workers=2):
            pass
    assert "refusing to start" in str(refused.value) and "REDIS_URL" in str(refused.value)
    shutil.rmtree(re.search(r"last lines of (.+)/service\.log:", str(refused.value)).group(1), ignore_errors=True)
    with running_stack(service_env=env, workers=None, keep_logs=True) as stack:     # gunicorn.conf.py decides
        assert requests.get(f"{stack.service_url}/ping", timeout=TIMEOUT).status_code == 200
        log = (stack.log_dir / "service.log").read_text()
    shutil.rmtree(stack.log_dir, ignore_errors=True)
    assert log.count("Booting worker with pid") == 1 and "one worker: the account pool lives in process memory" in log


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
        resp = clients[name].post(f"{stack.service_url}/v1/videos/generations",
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
