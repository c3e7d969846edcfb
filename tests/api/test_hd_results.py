"""HD results: a completed video's `result.url` is the download URL from `get_local_item_list`."""
import json

import responses

from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, LOCAL_ITEMS_URL, envelope, finished_record,
                                generate_answer, hd_url_in, local_item, local_items_answer, queued_record)

RID = "4722540945676"
ITEM = "7605520754297392435"          # item_list[0].common_attr.id of the real record
HD_BYTES = b"\x00\x00\x00\x18ftypmp42" + b"H" * 4000


def preview_of(record: dict) -> str:
    return record["item_list"][0]["video"]["transcoded_video"]["origin"]["video_url"]


def local_calls() -> list:
    return [c for c in responses.calls if c.request.url.startswith(LOCAL_ITEMS_URL)]


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
