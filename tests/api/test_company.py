"""Company mode at the HTTP boundary: API keys, the account pool, failover, /v1/accounts.

Jimeng is mocked with `responses`; each pool account answers by its session cookie. Every test
runs against both shared-state backends (memory and a real redis-server).
"""
from __future__ import annotations

import json
import logging
import os
import re

import pytest
import requests
import responses

from app import errors
from app.factory import create_app
from app.services.pool import CREDITS_RETRY_SECONDS, RESERVATION_SECONDS
from tests.conftest import UPSTREAM, made_app
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, finished_record, generate_answer, queued_record

CREDIT_URL = f"{UPSTREAM}/commerce/v1/benefits/user_credit"
KEY_A, KEY_B, KEY_OPS = "key-a-0123456789abcdef", "key-b-0123456789abcdef", "key-ops-0123456789abcdef"
KEYS = {"keys": [
    {"name": "svc-a", "key": KEY_A},
    {"name": "svc-b", "key": KEY_B, "models": ["jimeng-video-3.5-pro"], "submits_per_minute": 3},
    {"name": "ops", "key": KEY_OPS, "admin": True},
]}
ACCOUNTS = {"accounts": [
    {"label": "a1", "session_id": "sess-a1-secret", "max_parallel": 2},
    {"label": "a2", "session_id": "sess-a2-secret"},
]}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


class FakeJimeng:
    """Per-session answers: generate refusals, balances, and the records each account holds."""

    def __init__(self, rsps) -> None:
        self.refuse: dict[str, str] = {}          # session -> ret answered on generate
        self.credits: dict[str, int] = {}         # session -> gift credits (default 100)
        self.finished: set[str] = set()
        self.generated: list[str] = []            # session of each accepted generate
        self.ids: list[str] = []                  # history id of each accepted generate
        self.by_submit_id: dict[str, tuple[str, str, str]] = {}
        self.credit_calls = 0
        self.credit_sessions: list[str] = []      # session of each balance read
        self.credit_broken: set[str] = set()      # sessions whose balance read fails
        self.seq = 1000
        self.listed = True                        # False: the listing window, submit ids not found yet
        self.calls = rsps.calls
        rsps.add_callback(responses.POST, GENERATE_URL, callback=self.generate)
        rsps.add_callback(responses.POST, HISTORY_URL, callback=self.history)
        rsps.add_callback(responses.POST, CREDIT_URL, callback=self.credit)

    @staticmethod
    def session(request) -> str:
        return re.search(r"(?:^|; )sessionid=([^;]+)", request.headers["Cookie"]).group(1)

    def generate(self, request):
        session = self.session(request)
        if self.refuse.get(session) == "cut":
            raise requests.ConnectionError("connection reset after sending")
        if session in self.refuse and self.refuse[session] != "lost":
            return 200, {}, json.dumps(envelope(None, ret=self.refuse[session], errmsg="refused"))
        self.seq += 1
        self.generated.append(session)
        self.last_submit_id = json.loads(request.body)["submit_id"]
        self.ids.append(str(self.seq))
        sent = json.loads(request.body)
        submit_id = sent["submit_id"]
        self.by_submit_id[submit_id] = (session, str(self.seq), sent.get("metrics_extra", ""))
        if self.refuse.get(session) == "lost":
            raise requests.ConnectionError("connection reset after Jimeng created the task")
        return 200, {}, json.dumps(generate_answer(str(self.seq), submit_id))

    def finish_all(self) -> None:
        self.finished.update(self.ids)

    def history(self, request):
        body = json.loads(request.body)
        ids = body.get("history_ids", [])
        records = {i: (finished_record(i) if i in self.finished else queued_record(i)) for i in ids}
        for submit_id in body.get("submit_ids", []) if self.listed else []:
            session, history_id, metrics = self.by_submit_id.get(submit_id, (None, None, None))
            if session == self.session(request):
                record = finished_record(history_id) if history_id in self.finished else queued_record(history_id)
                records[submit_id] = {**record, "submit_id": submit_id, "metrics_extra": metrics}
        return 200, {}, json.dumps(envelope(records))

    def credit(self, request):
        self.credit_calls += 1
        self.credit_sessions.append(self.session(request))
        if self.session(request) in self.credit_broken:
            return 200, {}, json.dumps(envelope(None, ret="1", errmsg="system busy"))
        gift = self.credits.get(self.session(request), 100)
        return 200, {}, json.dumps(envelope({"credit": {"gift_credit": gift, "purchase_credit": 0, "vip_credit": 0}}))


@pytest.fixture
def files(tmp_path):
    keys, accounts = tmp_path / "keys.json", tmp_path / "accounts.json"
    keys.write_text(json.dumps(KEYS))
    accounts.write_text(json.dumps(ACCOUNTS))
    return keys, accounts


def build_app(files, clock, shared_state, **overrides):
    keys, accounts = files
    return made_app(clock, {"API_KEYS_FILE": str(keys), "JIMENG_ACCOUNTS_FILE": str(accounts), **overrides},
                    shared_state=shared_state)


@pytest.fixture
def app(files, clock, shared_state):
    return build_app(files, clock, shared_state)


@pytest.fixture
def jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeJimeng(rsps)


def submit(client, key=KEY_A, **body):
    return client.post("/v1/videos/generations", json={"prompt": "a cat", **body}, headers=bearer(key))


def generate_calls(jimeng) -> int:
    return sum(1 for c in jimeng.calls if c.request.url.startswith(GENERATE_URL))


def rewrite(path, data) -> None:
    """Replace a watched file the way an editor or a deploy does, with a visibly new mtime."""
    path.write_text(json.dumps(data))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# -- API keys ------------------------------------------------------------------------------------
def test_no_key_is_401_missing_token(client):
    resp = client.post("/v1/videos/generations", json={"prompt": "x"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "missing_token"


def test_an_unknown_key_is_401_and_never_logged(client, jimeng, caplog):
    caplog.set_level(logging.DEBUG)
    resp = submit(client, key="not-a-key-but-a-guess-123")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_api_key"
    assert "not-a-key-but-a-guess-123" not in resp.get_data(as_text=True)
    assert "not-a-key-but-a-guess-123" not in caplog.text and jimeng.generated == []


def test_session_ids_are_refused_when_keys_are_configured(client, jimeng):
    resp = submit(client, key="my-own-session-id")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_api_key"
    assert jimeng.generated == []


def test_allow_client_tokens_lets_session_ids_through(files, clock, shared_state, jimeng):
    client = build_app(files, clock, shared_state, ALLOW_CLIENT_TOKENS=True).test_client()
    assert submit(client, key="my-own-session-id").status_code == 200
    assert jimeng.generated == ["my-own-session-id"]
    assert submit(client, key=KEY_A).status_code == 200          # keys still work beside tokens
    assert jimeng.generated[1] in ("sess-a1-secret", "sess-a2-secret")


def test_keys_rotate_without_a_restart(client, files, jimeng):
    task = submit(client).get_json()["task_id"]
    both = {"keys": [*KEYS["keys"], {"name": "svc-a", "key": "key-a-rotated-0123456789"}]}
    rewrite(files[0], both)
    assert client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A)).status_code == 200
    rotated = {"keys": [{"name": "svc-a", "key": "key-a-rotated-0123456789"}, *KEYS["keys"][1:]]}
    rewrite(files[0], rotated)
    assert submit(client).status_code == 401                              # the old secret is gone
    resp = client.get(f"/v1/videos/tasks/{task}", headers=bearer("key-a-rotated-0123456789"))
    assert resp.status_code == 200                                       # tasks follow the key's name


def test_a_broken_key_file_keeps_the_last_good_keys(client, files, jimeng):
    files[0].write_text("{not json")
    st = os.stat(files[0])
    os.utime(files[0], ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    assert submit(client).status_code == 200


def test_one_key_never_sees_another_keys_tasks(client, jimeng):
    task = submit(client, key=KEY_A).get_json()["task_id"]
    assert client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A)).status_code == 200
    resp = client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_B))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "task_not_found"
    batch = client.post("/v1/videos/tasks/batch", json={"task_ids": [task]}, headers=bearer(KEY_OPS)).get_json()
    assert batch["data"][0]["status"] == "not_found"


@pytest.mark.parametrize("method, path", [("GET", "/v1/videos"), ("POST", "/token/points"),
                                          ("POST", "/token/receive")])
def test_whole_account_routes_are_for_admin_keys_only(client, jimeng, method, path):
    resp = client.open(path, method=method, headers=bearer(KEY_A))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


def test_raw_history_ids_are_not_found_in_company_mode(client, jimeng):
    submit(client, key=KEY_A)
    resp = client.get(f"/v1/videos/tasks/{jimeng.ids[0]}", headers=bearer(KEY_B))
    assert resp.status_code == 404                      # would reach any key's task on the pool


def test_a_key_is_held_to_its_models(client, jimeng):
    resp = submit(client, key=KEY_B, model="jimeng-video-3.0")
    assert resp.status_code == 403 and resp.get_json()["error"]["param"] == "model"
    assert submit(client, key=KEY_B).status_code == 403          # no model named: the default is not assumed
    assert submit(client, key=KEY_B, model="jimeng-video-3.5-pro").status_code == 200
    assert len(jimeng.generated) == 1


def test_submits_per_minute_answers_429_with_retry_after(client, jimeng, clock):
    ok = [submit(client, key=KEY_B, model="jimeng-video-3.5-pro").status_code for _ in range(3)]
    assert ok == [200, 200, 200]
    resp = submit(client, key=KEY_B, model="jimeng-video-3.5-pro")
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    assert len(jimeng.generated) == 3


# -- the pool ------------------------------------------------------------------------------------
def test_the_pool_never_exceeds_an_accounts_parallel_limit(client, jimeng):
    codes = [submit(client).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert sorted(jimeng.generated) == ["sess-a1-secret", "sess-a1-secret", "sess-a2-secret"]
    resp = submit(client)
    assert resp.get_json()["error"]["code"] == "concurrency_limit" and int(resp.headers["Retry-After"]) > 0


def test_a_task_seen_finished_frees_its_slot(client, jimeng):
    tasks = [submit(client).get_json()["task_id"] for _ in range(3)]
    assert submit(client).status_code == 429
    jimeng.finish_all()
    states = client.post("/v1/videos/tasks/batch", json={"task_ids": tasks}, headers=bearer(KEY_A)).get_json()
    assert [s["status"] for s in states["data"]] == ["completed"] * 3
    assert submit(client).status_code == 200


def test_a_full_account_is_checked_lightly_when_nobody_queries(client, jimeng, clock):
    for _ in range(3):
        submit(client)
    jimeng.finish_all()
    clock.advance(60)                           # past the sweep interval
    assert submit(client).status_code == 200    # the sweep found the finished tasks


def test_an_account_without_credits_is_not_chosen_and_balances_are_cached(client, jimeng):
    jimeng.credits["sess-a2-secret"] = 0
    assert [submit(client).status_code for _ in range(3)] == [200, 200, 429]
    assert jimeng.generated == ["sess-a1-secret", "sess-a1-secret"]
    assert jimeng.credit_calls == 2             # one balance per account, not one per submit


def test_a_failed_balance_read_is_not_retried_on_every_submit(client, jimeng, clock):
    jimeng.credit_broken.add("sess-a2-secret")
    assert [submit(client).status_code for _ in range(4)] == [200, 200, 200, 429]   # unknown balance: tried
    assert jimeng.credit_sessions.count("sess-a2-secret") == 1
    rows = {a["label"]: a for a in client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]}
    assert rows["a2"]["credits"] is None and rows["a2"]["last_error"]["code"] == "upstream_error"
    clock.advance(CREDITS_RETRY_SECONDS + 1)
    submit(client)
    assert jimeng.credit_sessions.count("sess-a2-secret") == 2                      # asked again later
    assert jimeng.credit_sessions.count("sess-a1-secret") == 1                      # a good balance stays cached


def test_every_account_out_of_credits_is_402(client, jimeng):
    jimeng.credits.update({"sess-a1-secret": 0, "sess-a2-secret": 0})
    resp = submit(client)
    assert resp.status_code == 402 and resp.get_json()["error"]["code"] == "insufficient_credits"


def test_a_credits_refusal_fails_over_to_the_next_account(client, jimeng):
    jimeng.refuse["sess-a1-secret"] = "1006"
    assert submit(client).status_code == 200            # a1 first refuses and a2 takes it, or a2 first
    assert jimeng.generated == ["sess-a2-secret"]
    assert submit(client).status_code == 429            # a2 full; a1 refuses (if not asked before)
    before = generate_calls(jimeng)
    assert submit(client).status_code == 429
    assert generate_calls(jimeng) == before              # a1 is known empty: not asked again


def test_every_account_refusing_credits_is_402(client, jimeng):
    jimeng.refuse.update({"sess-a1-secret": "1006", "sess-a2-secret": "1006"})
    resp = submit(client)
    assert resp.status_code == 402 and resp.get_json()["error"]["code"] == "insufficient_credits"
    assert generate_calls(jimeng) == 2


def test_1310_fails_over_and_cools_the_account_down(client, jimeng, clock):
    jimeng.refuse["sess-a1-secret"] = "1310"
    assert submit(client).status_code == 200 and jimeng.generated == ["sess-a2-secret"]
    resp = submit(client)                               # a2 is full now: a1 is surely asked
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "concurrency_limit"
    accounts = {a["label"]: a for a in client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]}
    assert accounts["a1"]["cooldown_seconds"] > 0
    assert accounts["a1"]["last_error"]["upstream_code"] == "1310"
    del jimeng.refuse["sess-a1-secret"]
    assert submit(client).status_code == 429            # a2 full, a1 cooling down
    clock.advance(61)
    assert submit(client).status_code == 200


def accounts_view(client) -> dict[str, dict]:
    return {a["label"]: a for a in client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]}


def test_a_risk_refusal_is_not_spread_to_other_accounts(client, jimeng, clock):
    jimeng.refuse.update({"sess-a1-secret": "4013", "sess-a2-secret": "4013"})
    resp = submit(client)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "risk_control"
    assert generate_calls(jimeng) == 1
    rows = accounts_view(client)
    refused = [label for label, row in rows.items() if row["last_error"]]
    assert len(refused) == 1 and rows[refused[0]]["last_error"]["upstream_code"] == "4013"
    assert 590 <= rows[refused[0]]["cooldown_seconds"] <= 600          # POOL_COOLDOWN_SECONDS
    other = ({"a1", "a2"} - set(refused)).pop()
    assert rows[other]["cooldown_seconds"] == 0
    jimeng.refuse.clear()
    assert submit(client).status_code == 200 and jimeng.generated == [f"sess-{other}-secret"]   # it rests
    clock.advance(601)
    assert submit(client).status_code == 200 and jimeng.generated[-1] == f"sess-{refused[0]}-secret"


def test_pool_failover_1_moves_risk_refusals_too(files, clock, shared_state, jimeng):
    client = build_app(files, clock, shared_state, POOL_FAILOVER=True).test_client()
    jimeng.refuse.update({"sess-a1-secret": "4013", "sess-a2-secret": "4013"})
    assert submit(client).status_code == 403
    assert generate_calls(jimeng) == 2
    rows = accounts_view(client)
    assert all(row["cooldown_seconds"] > 0 and row["last_error"]["upstream_code"] == "4013" for row in rows.values())


def test_an_expired_login_fails_over_and_cools_the_account_down(client, jimeng, clock):
    jimeng.refuse["sess-a1-secret"] = "1015"
    assert submit(client).status_code == 200 and jimeng.generated == ["sess-a2-secret"]
    assert submit(client).status_code == 429            # a2 full; a1 is asked (if not before) and refuses
    rows = accounts_view(client)
    assert rows["a1"]["last_error"]["code"] == "token_invalid" and rows["a1"]["last_error"]["upstream_code"] == "1015"
    assert 590 <= rows["a1"]["cooldown_seconds"] <= 600                 # POOL_COOLDOWN_SECONDS
    assert rows["a2"]["cooldown_seconds"] == 0
    del jimeng.refuse["sess-a1-secret"]
    before = generate_calls(jimeng)
    assert submit(client).status_code == 429                            # a2 full, a1 cooling down: not asked
    assert generate_calls(jimeng) == before
    clock.advance(601)
    assert submit(client).status_code == 200 and jimeng.generated[-1] == "sess-a1-secret"


def test_a_submit_that_may_have_reached_jimeng_is_not_moved(client, jimeng):
    jimeng.refuse.update({"sess-a1-secret": "cut", "sess-a2-secret": "cut"})
    resp = submit(client)
    assert resp.status_code == 503 and resp.get_json()["error"]["task_id"]
    assert generate_calls(jimeng) == 1
    rows = client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]
    assert sum(r["running"] for r in rows) == 1         # the maybe-task still counts against its account


def test_a_submit_whose_answer_was_lost_counts_until_its_task_is_seen_finished(client, jimeng, clock, shared_state):
    jimeng.refuse.update({"sess-a1-secret": "lost", "sess-a2-secret": "lost"})
    resp = submit(client)
    assert resp.status_code == 503 and len(jimeng.generated) == 1        # Jimeng has it; we never heard
    task = resp.get_json()["error"]["task_id"]
    owner = "a1" if jimeng.generated[0] == "sess-a1-secret" else "a2"
    clock.advance(RESERVATION_SECONDS + 60)                              # a mere reservation would be gone
    assert shared_state.slots(f"slots:{owner}", clock()) == [jimeng.last_submit_id]
    assert client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A)).get_json()["status"] != "completed"
    rows = {r["label"]: r for r in client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]}
    assert rows[owner]["running"] == 1
    jimeng.finish_all()
    assert client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A)).get_json()["status"] == "completed"
    assert shared_state.slots(f"slots:{owner}", clock()) == []


class WritesFailAfterTake:
    """A state backend that goes away between taking a slot and handing it to the task (reads still work,
    so the test can look at what stayed)."""

    def __init__(self, inner) -> None:
        self._inner, self.down = inner, False

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def take_slot(self, *args) -> bool:
        taken = self._inner.take_slot(*args)
        self.down = taken
        return taken

    def rename_slot(self, *args) -> None:
        raise errors.StateUnavailable()

    def put(self, *args) -> None:
        if self.down:
            raise errors.StateUnavailable()
        self._inner.put(*args)


@pytest.mark.parametrize("answer", ["accepted", "lost"])
def test_a_state_failure_after_jimeng_took_the_task_still_answers_its_task_id(files, clock, shared_state, jimeng,
                                                                            caplog, answer):
    client = build_app(files, clock, WritesFailAfterTake(shared_state)).test_client()
    if answer == "lost":
        jimeng.refuse.update({"sess-a1-secret": "lost", "sess-a2-secret": "lost"})
    resp = submit(client)
    # Not a 503 state_unavailable without a task id: the client (or its SDK) would submit and pay again.
    if answer == "accepted":
        assert resp.status_code == 200 and resp.get_json()["task_id"]
    else:
        assert resp.status_code == 503 and resp.get_json()["error"]["code"] != "state_unavailable"
        assert resp.get_json()["error"]["task_id"]
    assert len(jimeng.generated) == 1
    assert "could not hand the account's slot to its task" in caplog.text
    rows = client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]
    assert sum(r["running"] for r in rows) == 1                          # the reservation still counts


def test_queries_route_to_the_submitting_account(client, jimeng):
    task = submit(client).get_json()["task_id"]
    first = jimeng.generated[0]
    before = len(jimeng.calls)
    client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A))
    queries = [c for c in list(jimeng.calls)[before:] if c.request.url.startswith(HISTORY_URL)]
    assert len(queries) == 1 and f"sessionid={first}" in queries[0].request.headers["Cookie"]


def test_a_removed_account_leaves_its_tasks_410(client, files, jimeng):
    task = submit(client).get_json()["task_id"]
    owner = jimeng.generated[0]
    remaining = [a for a in ACCOUNTS["accounts"] if a["session_id"] != owner]
    rewrite(files[1], {"accounts": remaining})
    resp = client.get(f"/v1/videos/tasks/{task}", headers=bearer(KEY_A))
    assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "account_removed"
    batch = client.post("/v1/videos/tasks/batch", json={"task_ids": [task]}, headers=bearer(KEY_A)).get_json()
    assert batch["data"][0]["error_code"] == "account_removed"


# -- visibility ----------------------------------------------------------------------------------
def test_accounts_list_is_for_admin_keys_only(client, jimeng):
    resp = client.get("/v1/accounts", headers=bearer(KEY_A))
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.get("/v1/accounts").status_code == 401


def test_accounts_list_shows_state_without_secrets(client, jimeng):
    submit(client)
    resp = client.get("/v1/accounts", headers=bearer(KEY_OPS))
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "sess-a1-secret" not in text and "sess-a2-secret" not in text
    rows = {a["label"]: a for a in resp.get_json()["data"]}
    assert set(rows) == {"a1", "a2"}
    assert rows["a1"]["session"].endswith("cret") and rows["a1"]["region"] == "cn"
    assert sum(r["running"] for r in rows.values()) == 1
    assert {r["max_parallel"] for r in rows.values()} == {1, 2}


def test_accounts_route_is_404_without_a_pool():
    client = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM}).test_client()
    resp = client.get("/v1/accounts", headers=bearer("whatever-session"))
    assert resp.status_code == 404


def test_an_idempotent_submit_goes_through_the_pool_and_is_not_counted_twice(client, jimeng):
    headers = {**bearer(KEY_A), "Idempotency-Key": "order-42"}
    first = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=headers)
    assert first.status_code == 200
    jimeng_ids = list(jimeng.ids)
    rows = client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]
    assert sum(r["running"] for r in rows) == 1
    assert jimeng_ids and len(jimeng.generated) == 1
    again = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=headers)
    assert again.status_code == 200 and again.get_json()["task_id"] == first.get_json()["task_id"]
    assert len(jimeng.generated) == 1
    rows = client.get("/v1/accounts", headers=bearer(KEY_OPS)).get_json()["data"]
    assert sum(r["running"] for r in rows) == 1


def test_per_account_metrics_name_the_label_never_the_session(client, jimeng):
    jimeng.refuse["sess-a1-secret"] = "1310"
    assert submit(client).status_code == 200
    submit(client)                                   # a2 full: a1 is asked and refuses
    text = client.get("/metrics").get_data(as_text=True)
    assert 'jimeng_api_pool_submits_total{account="a2",outcome="accepted"}' in text
    assert 'jimeng_api_pool_submits_total{account="a1",outcome="concurrency_limit"}' in text
    assert 'jimeng_api_pool_cooldowns_total{account="a1",reason="concurrency_limit"}' in text
    assert "sess-a1-secret" not in text and "sess-a2-secret" not in text


# -- shared state out of reach -------------------------------------------------------------------
def unusable(backend: str, tmp_path):
    """A shared state that cannot be used: Redis where nothing listens; DATA_DIR under a file."""
    from app.state.shared import RedisState
    from app.state.sqlite import SqliteState
    from sandbox.stack import free_ports

    if backend == "redis":
        return RedisState(f"redis://127.0.0.1:{free_ports(1)[0]}/0")
    (tmp_path / "blocked").write_text("not a directory")
    return SqliteState(str(tmp_path / "blocked" / "data"))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_shared_state_out_of_reach_is_503_with_retry_after_and_nothing_submitted(files, clock, jimeng, backend,
                                                                                  tmp_path):
    client = build_app(files, clock, unusable(backend, tmp_path)).test_client()
    resp = submit(client)
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "state_unavailable"
    assert resp.headers["Retry-After"] == "5"
    assert jimeng.generated == []


def test_per_account_gauges_show_running_credits_and_cooldown(client, jimeng, clock):
    from tests.api.test_metrics import sample

    jimeng.refuse["sess-a1-secret"] = "1310"
    jimeng.credits["sess-a2-secret"] = 42
    assert submit(client).status_code == 200         # on a2 (a1 refuses, or is not asked yet)
    submit(client)                                   # a2 full: a1 is asked and refuses
    text = client.get("/metrics").get_data(as_text=True)
    assert sample(text, "jimeng_api_pool_running_tasks", account="a2") == 1
    assert sample(text, "jimeng_api_pool_running_tasks", account="a1") == 0
    assert sample(text, "jimeng_api_pool_credits", account="a2") == 42
    assert sample(text, "jimeng_api_pool_credits", account="a1") == 100
    assert 50 <= sample(text, "jimeng_api_pool_cooldown_seconds", account="a1") <= 60   # POOL_BUSY_COOLDOWN_SECONDS
    assert sample(text, "jimeng_api_pool_cooldown_seconds", account="a2") == 0
    assert "sess-a1-secret" not in text and "sess-a2-secret" not in text


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_account_gauges_keep_metrics_up_when_the_state_is_down(files, clock, jimeng, backend, tmp_path):
    client = build_app(files, clock, unusable(backend, tmp_path)).test_client()
    resp = client.get("/metrics")
    assert resp.status_code == 200 and "jimeng_api_requests_total" in resp.get_data(as_text=True)


def test_a_repeated_key_before_jimeng_lists_its_task_is_one_generate_on_whichever_account(client, jimeng):
    """The pool may put the repeat on another account (the first holds a running slot), with another
    submit id: the key's marker is the key's, so the repeat answers the task just accepted. Another
    API key's equal Idempotency-Key is its own request."""
    jimeng.listed = False
    headers = {**bearer(KEY_A), "Idempotency-Key": "order-77"}
    first = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=headers)
    again = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json()["task_id"] == first.get_json()["task_id"] and len(jimeng.generated) == 1
    other = client.post("/v1/videos/generations", json={"prompt": "a cat", "model": "jimeng-video-3.5-pro"},
                        headers={**bearer(KEY_B), "Idempotency-Key": "order-77"})
    assert other.status_code == 200 and other.get_json()["task_id"] != first.get_json()["task_id"]
    assert len(jimeng.generated) == 2
