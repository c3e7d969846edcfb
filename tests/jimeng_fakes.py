"""Jimeng answer shapes for `responses` mocks, as the protocol document and the fixtures show them."""
from __future__ import annotations

import base64
import copy
import json

from responses import matchers

from tests.conftest import load_fixture

HISTORY_URL = "http://jimeng.test/mweb/v1/get_history_by_ids"
GENERATE_URL = "http://jimeng.test/mweb/v1/aigc_draft/generate"


def envelope(data: dict | None = None, ret: str = "0", errmsg: str = "success") -> dict:
    return {"ret": ret, "errmsg": errmsg, "systime": "1770000000", "logid": "20260101000000TEST", "data": data}


def finished_record(record_id: str = "4722540945676") -> dict:
    """The real finished video record (fixture), under the requested id."""
    record = copy.deepcopy(load_fixture("history_record_video_success_see-video-server.json"))
    record["history_record_id"] = record_id
    return record


LOCAL_ITEMS_URL = "http://jimeng.test/mweb/v1/get_local_item_list"
CREDIT_URL = "http://jimeng.test/commerce/v1/benefits/user_credit"
CREDIT_RECEIVE_URL = "http://jimeng.test/commerce/v1/benefits/credit_receive"


def hd_url_in(item: dict) -> str:
    """The URL base64-encoded in a real item's `video_model` (`video_list.video_1.main_url`)."""
    model = json.loads(item["video"]["video_model"])
    return base64.b64decode(model["video_list"]["video_1"]["main_url"]).decode()


def local_item(item_id: str = "7605520754297392435", *, hd_url: str | None = None) -> dict:
    """A `get_local_item_list` item: the real generated item of the fixture (its `video_model` holds a
    base64 `main_url`), under `item_id`, optionally pointing at `hd_url`."""
    item = copy.deepcopy(load_fixture("history_record_video_success_see-video-server.json")["item_list"][0])
    item["common_attr"]["id"] = item_id
    if hd_url is not None:
        model = json.loads(item["video"]["video_model"])
        model["video_list"]["video_1"]["main_url"] = base64.b64encode(hd_url.encode()).decode()
        item["video"]["video_model"] = json.dumps(model)
    return item


def local_items_answer(*items: dict) -> dict:
    return envelope({"item_list": list(items)})


def queued_record(record_id: str = "4722540945676", *, position: int = 47, length: int = 90000,
                  queue_status: int = 1, status: int = 20) -> dict:
    """A just-submitted record as the capture shows it, with a queue (appendix A: queue_status 1 = queued)."""
    return {
        "history_record_id": record_id, "status": status, "fail_code": "", "created_time": 1770000000.5,
        "finish_time": 0, "item_list": [], "forecast_queue_cost": 200, "forecast_generate_cost": 123,
        "queue_info": {"queue_idx": position, "priority": 3, "queue_status": queue_status,
                       "queue_length": length, "polling_config": {"interval_seconds": 30, "timeout_seconds": 86400}},
        "draft_content": json.dumps({"model_req_key": "dreamina_ic_generate_video_model_vgfm_3.5_pro"}),
        "total_image_count": 0, "finished_image_count": 0,
    }


def failed_record(record_id: str = "4722540945676", fail_code: str = "2038") -> dict:
    record = queued_record(record_id, position=0, length=0, queue_status=3, status=30)
    record["fail_code"] = fail_code
    return record


# The failed records of the 2026-12 addendum ([JF]): status 30, a `task.status` sub-code, Jimeng's own words.
PROMPT_REFUSED = (10, "你输入的文字不符合平台规则，请修改后重试")
OUTPUT_REFUSED = (40, "视频未通过审核，本次不消耗积分")
CANCELLED = (30, "你已取消生成，积分已返还")


def failed_with(sub_code: tuple[int, str], record_id: str = "4722540945676", *, fail_code: str = "",
                queue_status: int = 3) -> dict:
    """A status-30 record whose `task.status` says why (PROMPT_REFUSED, OUTPUT_REFUSED, CANCELLED)."""
    task_status, message = sub_code
    record = failed_record(record_id, fail_code)
    record["task"] = {"task_id": record_id, "history_id": record_id, "status": task_status, "finish_time": 0}
    record["fail_starling_message"] = message
    record["queue_info"]["queue_status"] = queue_status
    return record


ALGO_URL = "http://jimeng.test/mweb/v1/algo_proxy"


def generate_answer(record_id: str = "4722540945676", submit_id: str = "sid") -> dict:
    """The generate answer: `data.aigc_data` is a fresh record (protocol 3.4, the capture)."""
    record = queued_record(record_id, position=0, length=0, queue_status=2)
    record.update({"submit_id": submit_id, "forecast_queue_cost": 0, "forecast_generate_cost": 123})
    return envelope({"aigc_data": record, "fail_code": "", "fail_starling_key": "", "fail_starling_message": ""})


# --- storage (protocol 4.1 / 4.3): ImageX, VOD and upload nodes on the override base URL ---
BASE = "http://jimeng.test"
AK, SK, STS = "AKTESTID", "sk-very-secret", "sts-session-token"
NODE_AUTH = "SpaceKey/wopfjsm1ax/1/:version:v2:node-secret"
IMAGE_STORE_URI = "tos-sg-i-wopfjsm1ax/5f1c2d3e"
VIDEO_STORE_URI = "tos-sg-v-dreamina/v0d1e2"


def upload_token_answer(**data) -> dict:
    creds = {"access_key_id": AK, "secret_access_key": SK, "session_token": STS}
    creds.update(data)
    return {"ret": "0", "errmsg": "success", "data": creds}


APPLY_IMAGE = {"ResponseMetadata": {"RequestId": "r1", "Action": "ApplyImageUpload"},
               "Result": {"UploadAddress": {"StoreInfos": [{"StoreUri": IMAGE_STORE_URI, "Auth": NODE_AUTH}],
                                            "UploadHosts": ["tos-up-sg.example.com"],
                                            "SessionKey": "image-session-key"}}}
COMMIT_IMAGE = {"ResponseMetadata": {"RequestId": "r2", "Action": "CommitImageUpload"},
                "Result": {"Results": [{"Uri": IMAGE_STORE_URI, "UriStatus": 2000}],
                           "PluginResult": [{"ImageUri": IMAGE_STORE_URI, "ImageWidth": 1024, "ImageHeight": 768,
                                             "ImageFormat": "png"}]}}
APPLY_VIDEO = {"ResponseMetadata": {"RequestId": "r3"},
               "Result": {"InnerUploadAddress": {"UploadNodes": [{
                   "UploadHost": "tos-vod.example.com", "SessionKey": "video-session-key", "Vid": "v0apply",
                   "Type": "video", "StoreInfos": [{"StoreUri": VIDEO_STORE_URI, "Auth": NODE_AUTH}]}]}}}
UPLOAD_ANSWER = {"code": 2000, "apiversion": "v1", "message": "Success", "data": {"crc32": "00000000"}}


def commit_video(duration: float) -> dict:
    return {"ResponseMetadata": {"RequestId": "r4"},
            "Result": {"Results": [{"Vid": "v0committed", "VideoMeta": {
                "Uri": VIDEO_STORE_URI, "Width": 1280, "Height": 720, "Duration": duration, "Format": "mp4"}}]}}


def action(name: str):
    return [matchers.query_param_matcher({"Action": name}, strict_match=False)]


def register_image_flow(rsps, *, token_data: dict | None = None) -> None:
    rsps.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer(**(token_data or {})))
    rsps.get(f"{BASE}/", json=APPLY_IMAGE, match=action("ApplyImageUpload"))
    rsps.post(f"{BASE}/upload/v1/{IMAGE_STORE_URI}", json=UPLOAD_ANSWER)
    rsps.post(f"{BASE}/", json=COMMIT_IMAGE, match=action("CommitImageUpload"))


def register_video_flow(rsps, *, duration: float = 5.0, token_data: dict | None = None) -> None:
    rsps.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer(**(token_data or {})))
    rsps.get(f"{BASE}/", json=APPLY_VIDEO, match=action("ApplyUploadInner"))
    rsps.post(f"{BASE}/upload/v1/{VIDEO_STORE_URI}", json=UPLOAD_ANSWER)
    rsps.post(f"{BASE}/", json=commit_video(duration), match=action("CommitUploadInner"))


