"""get_local_item_list as the 2026 update describes it: the HD URL base64 in `video_model`."""
import base64
import json

import pytest

from tests.sandbox.wire import ASSETS, video_body

LOCAL_ITEMS = "/mweb/v1/get_local_item_list"


def finished_video(jimeng, clock, session="sess-alice") -> dict:
    answer = jimeng.submit(video_body(), session=session)
    history_id = answer["data"]["aigc_data"]["history_record_id"]
    clock.advance(6)
    return jimeng.history(history_ids=[history_id], session=session)[history_id]


def ask(item_ids) -> dict:
    return {"item_id_list": list(item_ids), "pack_item_opt": {"scene": 1, "need_data_integrity": True},
            "is_for_video_download": True}


def hd_url_of(item: dict) -> str:
    entry = json.loads(item["video"]["video_model"])["video_list"]["video_1"]
    return base64.b64decode(entry["main_url"]).decode()


def test_download_item_carries_the_hd_url_base64_in_video_model(jimeng, client, clock):
    record = finished_video(jimeng, clock)
    item_id = record["item_list"][0]["common_attr"]["id"]
    item = jimeng.data(LOCAL_ITEMS, ask([item_id]))["item_list"][0]
    assert item["common_attr"]["id"] == item_id
    assert isinstance(item["video"]["video_model"], str)          # a JSON string, as Jimeng sends it
    hd = hd_url_of(item)
    preview = record["item_list"][0]["video"]["transcoded_video"]["origin"]["video_url"]
    assert hd != preview
    assert item["video"]["transcoded_video"]["origin"]["video_url"] == preview   # the paths keep the preview
    path = hd.split("localhost", 1)[1]
    hd_bytes, preview_bytes = client.get(path).data, client.get(preview.split("localhost", 1)[1]).data
    assert hd_bytes[4:8] == b"ftyp" and len(hd_bytes) > 4 * len(preview_bytes)   # same length, far more bits
    assert hd_bytes.startswith(preview_bytes)
    assert json.loads(item["video"]["video_model"])["video_list"]["video_1"]["size"] == len(hd_bytes)
    ranged = client.get(path, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.data == hd_bytes[:10]


def test_the_hd_link_expires_an_hour_after_the_answer(jimeng, clock):
    """As in the CN sample (protocol 5.5): `url_expire` about an hour after the answer, not after the
    task finished, so a link asked for a day later is as fresh as one asked at once."""
    item_id = finished_video(jimeng, clock)["item_list"][0]["common_attr"]["id"]
    clock.advance(86400)
    item = jimeng.data(LOCAL_ITEMS, ask([item_id]))["item_list"][0]
    model = json.loads(item["video"]["video_model"])
    assert model["url_expire"] == model["video_list"]["video_1"]["url_expire"] == int(clock()) + 3600


def test_many_items_in_one_call_and_only_the_callers_own(jimeng, clock):
    ids = [finished_video(jimeng, clock)["item_list"][0]["common_attr"]["id"] for _ in range(3)]
    items = jimeng.data(LOCAL_ITEMS, ask(ids))["item_list"]
    assert sorted(i["common_attr"]["id"] for i in items) == sorted(ids)
    assert jimeng.data(LOCAL_ITEMS, ask(ids), session="sess-bob")["item_list"] == []


def test_a_record_id_is_an_asset_wrapper_id_and_answers_3005(jimeng, clock):
    record = finished_video(jimeng, clock)
    assert jimeng.call(LOCAL_ITEMS, ask([record["history_record_id"]]))["ret"] == "3005"


def test_unfinished_video_has_no_download_item_and_hd_media_is_404(jimeng, client):
    answer = jimeng.submit(video_body())["data"]["aigc_data"]
    assert jimeng.data(LOCAL_ITEMS, ask(answer["pre_gen_item_ids"]))["item_list"] == []
    assert client.get(f"/media/hd/{answer['history_record_id']}.mp4").status_code == 404


@pytest.mark.parametrize("body", [
    {"item_id_list": []}, {**ask(["1"]), "item_id_list": [1]}, {**ask(["1"]), "pack_item_opt": {"scene": 1}},
    {**ask(["1"]), "is_for_video_download": False}, {"item_id_list": ["1"]}, ask([str(i) for i in range(101)])])
def test_malformed_bodies_are_refused(jimeng, body):
    assert jimeng.call(LOCAL_ITEMS, body)["ret"] == "1000"


def test_hd_asset_is_a_valid_mp4_padded_by_a_free_box():
    from sandbox.cdn import HD_VIDEO
    preview = (ASSETS / "sample.mp4").read_bytes()
    size = int.from_bytes(HD_VIDEO[len(preview):len(preview) + 4], "big")
    assert HD_VIDEO[len(preview) + 4:len(preview) + 8] == b"free" and len(preview) + size == len(HD_VIDEO)
