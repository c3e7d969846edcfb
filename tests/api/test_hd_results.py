"""HD results: a completed video's `result.url` is the download URL from `get_local_item_list`,
asked for once and kept in the shared state until shortly before it expires.

Every test runs on each shared-state backend, but those that move the clock past a kept link's
time to live (SQLite only: Redis expires values on its own clock)."""
import json

import pytest
import responses

from app import errors
from app.services import hd_results

from tests.api.helpers import auth, task_id_for
from tests.conftest import made_app
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, LOCAL_ITEMS_URL, envelope, finished_record,
                                generate_answer, hd_url_in, local_item, local_items_answer, queued_record)

RID = "4722540945676"
ITEM = "7605520754297392435"          # item_list[0].common_attr.id of the real record
HD_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"H" * 4000


@pytest.fixture
def app(clock, shared_state):
    return made_app(clock, shared_state=shared_state)


CLOCK_MOVES_PAST_THE_TTL = pytest.mark.parametrize("shared_state", ["sqlite"], indirect=True)


def preview_of(record: dict) -> str:
    return record["item_list"][0]["video"]["transcoded_video"]["origin"]["video_url"]


def local_calls() -> list:
    return [c for c in responses.calls if c.request.url.startswith(LOCAL_ITEMS_URL)]


def history_calls() -> list:
    return [c for c in responses.calls if c.request.url.startswith(HISTORY_URL)]


def expiring_item(item_id: str, hd_url: str, expires_at: float | None) -> dict:
    """A download item whose video_model names `expires_at` as its `url_expire` (None: names none)."""
    item = local_item(item_id, hd_url=hd_url)
    model = json.loads(item["video"]["video_model"])
    for holder in (model, model["video_list"]["video_1"]):
        holder.pop("url_expire", None)
        if expires_at is not None:
            holder["url_expire"] = int(expires_at)
    item["video"]["video_model"] = json.dumps(model)
    return item


@responses.activate
def test_completed_task_answers_the_hd_url_and_keeps_the_preview(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    record = finished_record(RID)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    item = local_item(ITEM)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(item))
    result = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]
    assert result["url"] == hd_url_in(item) and result["url"].startswith("https://v26-default.365yg.com/")
    assert result["preview_url"] == preview_of(record) and result["hd"] is True and "hd_error" not in result
    sent = json.loads(local_calls()[0].request.body)
    assert sent == {"item_id_list": [ITEM], "pack_item_opt": {"scene": 1, "need_data_integrity": True},
                    "is_for_video_download": True}


@responses.activate
def test_hd_read_failure_still_answers_completed_with_the_preview(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    record = finished_record(RID)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.post(LOCAL_ITEMS_URL, status=502, body="bad gateway")
    body = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()
    assert body["status"] == "completed" and body["progress"] == 100
    result = body["result"]
    assert result["url"] == result["preview_url"] == preview_of(record)
    assert result["hd"] is False and "preview" in result["hd_error"] and "HTTP 502" in result["hd_error"]


@responses.activate
def test_asset_wrapper_refusal_3005_keeps_the_preview(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    record = finished_record(RID)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.post(LOCAL_ITEMS_URL, json=envelope(None, ret="3005", errmsg="invalid item"))
    result = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]
    assert result["url"] == preview_of(record) and result["hd"] is False


@responses.activate
def test_item_missing_from_the_answer_keeps_the_preview(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    record = finished_record(RID)
    responses.post(HISTORY_URL, json=envelope({RID: record}))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item("123")))   # someone else's item
    result = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]
    assert result["url"] == preview_of(record) and result["hd"] is False and "no HD URL" in result["hd_error"]


@responses.activate
def test_a_batch_makes_one_local_item_call_per_token(app, client, clock):
    rids = [str(6000 + i) for i in range(3)]
    alice = [task_id_for(app, "alice", r, submitted_at=clock.now) for r in rids]
    bob = task_id_for(app, "us-bob", "7000", submitted_at=clock.now)
    queued = task_id_for(app, "alice", "6999", submitted_at=clock.now)
    records = {}
    for n, r in enumerate(rids):
        records[r] = finished_record(r)
        records[r]["item_list"][0]["common_attr"]["id"] = f"item-{n}"
    records["6999"] = queued_record("6999")
    bob_record = finished_record("7000")
    bob_record["item_list"][0]["common_attr"]["id"] = "item-bob"
    responses.post(HISTORY_URL, json=envelope(records), match=[responses.matchers.header_matcher({"Appid": "513695"})])
    responses.post(HISTORY_URL, json=envelope({"7000": bob_record}),
                   match=[responses.matchers.header_matcher({"Appid": "513641"})])
    items = [local_item(f"item-{n}", hd_url=f"https://v3-dreamnia.jimeng.com/hd/{n}.mp4") for n in range(3)]
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(*reversed(items)),
                   match=[responses.matchers.header_matcher({"Appid": "513695"})])
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item("item-bob", hd_url="https://v1-x.jimeng.com/b")),
                   match=[responses.matchers.header_matcher({"Appid": "513641"})])
    resp = client.post("/v1/videos/tasks/batch", json={"task_ids": [*alice, queued, bob]},
                       headers=auth("alice", "us-bob"))
    data = resp.get_json()["data"]
    assert [d["result"]["url"] for d in data[:3]] == [f"https://v3-dreamnia.jimeng.com/hd/{n}.mp4" for n in range(3)]
    assert data[3]["status"] == "pending" and "result" not in data[3]
    assert data[4]["result"]["url"] == "https://v1-x.jimeng.com/b"
    calls = local_calls()
    assert len(calls) == 2            # one per token, never one per item
    asked = sorted(json.loads(c.request.body)["item_id_list"] for c in calls)
    assert asked == [["item-0", "item-1", "item-2"], ["item-bob"]]


@responses.activate
def test_content_route_streams_the_hd_video(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v5-dreamnia.jimeng.com/x")))
    responses.get("https://v5-dreamnia.jimeng.com/x", body=HD_BYTES, content_type="video/mp4")
    resp = client.get(f"/v1/videos/tasks/{tid}/content", headers=auth("sess"))
    assert resp.status_code == 200 and resp.data == HD_BYTES


@responses.activate
def test_blocking_mode_answers_the_hd_url(client):
    responses.post(GENERATE_URL, json=generate_answer(RID))
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v5-dreamnia.jimeng.com/y")))
    resp = client.post("/v1/videos/generations", json={"prompt": "a cat", "wait": True}, headers=auth("s"))
    assert resp.status_code == 200 and resp.get_json()["data"][0]["url"] == "https://v5-dreamnia.jimeng.com/y"


# -- kept: one upstream call per finished poll ---------------------------------------------------------

def finished(app, clock, token: str = "sess", rid: str = RID) -> str:
    responses.post(HISTORY_URL, json=envelope({rid: finished_record(rid)}))
    return task_id_for(app, token, rid, submitted_at=clock.now)


@responses.activate
def test_a_finished_videos_hd_link_is_asked_for_once_whatever_route_polls_it(app, client, clock):
    tid = finished(app, clock)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v5-dreamnia.jimeng.com/k")))
    responses.get("https://v5-dreamnia.jimeng.com/k", body=HD_BYTES, content_type="video/mp4")
    answers = [client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"] for _ in range(3)]
    answers.append(client.post("/v1/videos/tasks/batch", json={"task_ids": [tid]},
                                headers=auth("sess")).get_json()["data"][0]["result"])
    answers.append(client.get(f"/v1/videos/tasks?ids={tid}", headers=auth("sess")).get_json()["data"][0]["result"])
    assert client.get(f"/v1/videos/{tid}", headers=auth("sess")).get_json()["status"] == "completed"
    assert client.get(f"/v1/videos/tasks/{tid}/content", headers=auth("sess")).data == HD_BYTES
    assert all(a["url"] == "https://v5-dreamnia.jimeng.com/k" and a["hd"] is True for a in answers)
    assert len(history_calls()) == 7 and len(local_calls()) == 1


@responses.activate
def test_every_worker_finds_the_link_another_one_looked_up(app, client, clock):
    """A second app instance on the same shared state (another worker) asks Jimeng for nothing more."""
    tid = finished(app, clock)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v5-dreamnia.jimeng.com/w")))
    state = app.extensions["shared_state"]
    if type(state).__name__ == "SqliteState":      # its own connection to the same file
        from app.state.sqlite import SqliteState
        state = SqliteState(client.application.config["DATA_DIR"], clock)
    other = made_app(clock, shared_state=state)
    first = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]
    second = other.test_client().get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]
    assert first == second and second["url"] == "https://v5-dreamnia.jimeng.com/w" and len(local_calls()) == 1


@responses.activate
def test_one_account_never_reads_another_accounts_link(app, client, clock):
    """The same item id under two accounts (as far as the cache can tell): each asks with its own token."""
    alice, bob = finished(app, clock, "alice"), task_id_for(app, "bob", RID, submitted_at=clock.now)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v1-a.jimeng.com/alice")))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v1-a.jimeng.com/bob")))
    assert client.get(f"/v1/videos/tasks/{alice}", headers=auth("alice")).get_json()["result"]["url"].endswith("/alice")
    assert client.get(f"/v1/videos/tasks/{bob}", headers=auth("bob")).get_json()["result"]["url"].endswith("/bob")
    assert len(local_calls()) == 2


@responses.activate
def test_a_batch_asks_only_for_the_links_not_kept_yet_in_one_call(app, client, clock):
    rids = [str(6000 + i) for i in range(3)]
    records = {}
    for n, r in enumerate(rids):
        records[r] = finished_record(r)
        records[r]["item_list"][0]["common_attr"]["id"] = f"item-{n}"
    responses.post(HISTORY_URL, json=envelope(records))
    ids = [task_id_for(app, "alice", r, submitted_at=clock.now) for r in rids]
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item("item-0", hd_url="https://v1-a.jimeng.com/0")))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(
        *[local_item(f"item-{n}", hd_url=f"https://v1-a.jimeng.com/{n}") for n in (1, 2)]))
    client.get(f"/v1/videos/tasks/{ids[0]}", headers=auth("alice"))
    data = client.post("/v1/videos/tasks/batch", json={"task_ids": ids}, headers=auth("alice")).get_json()["data"]
    assert [d["result"]["url"] for d in data] == [f"https://v1-a.jimeng.com/{n}" for n in range(3)]
    assert [json.loads(c.request.body)["item_id_list"] for c in local_calls()] == [["item-0"], ["item-1", "item-2"]]


@CLOCK_MOVES_PAST_THE_TTL
@responses.activate
def test_a_link_is_kept_until_shortly_before_it_expires(app, client, clock):
    tid = finished(app, clock)
    expires = clock.now + 3600
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(expiring_item(ITEM, "https://v1-a.jimeng.com/1", expires)))
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(expiring_item(ITEM, "https://v1-a.jimeng.com/2",
                                                                          expires + 3600)))
    poll = lambda: client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]["url"]   # noqa: E731
    assert poll().endswith("/1")
    clock.advance(3600 - hd_results.EXPIRY_MARGIN - 1)         # still EXPIRY_MARGIN + 1 s to go: kept
    assert poll().endswith("/1") and len(local_calls()) == 1
    clock.advance(2)                                           # closer than EXPIRY_MARGIN: asked again
    assert poll().endswith("/2") and len(local_calls()) == 2


@CLOCK_MOVES_PAST_THE_TTL
@responses.activate
def test_a_link_that_names_no_expiry_is_kept_for_the_default_time(app, client, clock):
    tid = finished(app, clock)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(expiring_item(ITEM, "https://v1-a.jimeng.com/n", None)))
    client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    clock.advance(hd_results.DEFAULT_KEEP - 1)
    client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert len(local_calls()) == 1
    clock.advance(2)
    client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert len(local_calls()) == 2


@responses.activate
def test_a_link_about_to_expire_is_answered_but_not_kept(app, client, clock):
    tid = finished(app, clock)
    soon = expiring_item(ITEM, "https://v1-a.jimeng.com/s", clock.now + hd_results.EXPIRY_MARGIN - 60)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(soon))
    results = [client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"] for _ in range(2)]
    assert all(r["url"] == "https://v1-a.jimeng.com/s" for r in results) and len(local_calls()) == 2


@CLOCK_MOVES_PAST_THE_TTL
@responses.activate
def test_a_failed_lookup_is_remembered_for_a_short_while_then_asked_again(app, client, clock):
    tid = finished(app, clock)
    responses.post(LOCAL_ITEMS_URL, status=502, body="bad gateway")
    poll = lambda: client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).get_json()["result"]   # noqa: E731
    first = poll()
    calls = len(local_calls())             # the client's own retries of a safe call included
    second = poll()
    assert all(r["hd"] is False and "HTTP 502" in r["hd_error"] for r in (first, second))
    assert len(local_calls()) == calls
    responses.replace(responses.POST, LOCAL_ITEMS_URL,
                      json=local_items_answer(local_item(ITEM, hd_url="https://v1-a.jimeng.com/back")))
    clock.advance(hd_results.FAILURE_KEEP - 1)
    assert poll()["hd"] is False and len(local_calls()) == calls
    clock.advance(2)
    back = poll()
    assert back["hd"] is True and back["url"] == "https://v1-a.jimeng.com/back" and len(local_calls()) == calls + 1


@responses.activate
def test_without_its_shared_state_a_poll_still_gets_the_hd_link(clock, shared_state):
    from tests.api.test_idempotency import StateDown

    app = made_app(clock, shared_state=StateDown(shared_state, {"get_many", "put_many"}))
    client = app.test_client()
    tid = finished(app, clock)
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(local_item(ITEM, hd_url="https://v1-a.jimeng.com/d")))
    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))
    assert resp.status_code == 200 and resp.get_json()["result"]["url"] == "https://v1-a.jimeng.com/d"
