"""Jimeng answer shapes for `responses` mocks, as the protocol document and the fixtures show them."""
from __future__ import annotations

import copy
import json

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


UPLOAD_TOKEN_URL = "http://jimeng.test/mweb/v1/get_upload_token"
ROOT_URL = "http://jimeng.test/"
ALGO_URL = "http://jimeng.test/mweb/v1/algo_proxy"


def generate_answer(record_id: str = "4722540945676", submit_id: str = "sid") -> dict:
    """The generate answer: `data.aigc_data` is a fresh record (protocol 3.4, the capture)."""
    record = queued_record(record_id, position=0, length=0, queue_status=2)
    record.update({"submit_id": submit_id, "forecast_queue_cost": 0, "forecast_generate_cost": 123})
    return envelope({"aigc_data": record, "fail_code": "", "fail_starling_key": "", "fail_starling_message": ""})


def given_image_upload(rsps, store_uri: str = "tos-cn-i-tb4s082cfz/abc123") -> None:
    """ImageX's four steps (protocol 4.1) and the CN content check, all on the override base URL."""
    from responses import matchers
    rsps.post(UPLOAD_TOKEN_URL, json=envelope({"access_key_id": "AKTEST", "secret_access_key": "SKTEST",
                                               "session_token": "STTEST", "service_id": "tb4s082cfz"}))
    rsps.get(ROOT_URL, match=[matchers.query_param_matcher({"Action": "ApplyImageUpload"}, strict_match=False)],
             json={"ResponseMetadata": {"RequestId": "r"}, "Result": {"UploadAddress": {
                 "StoreInfos": [{"StoreUri": store_uri, "Auth": "SpaceKey/abc"}],
                 "UploadHosts": ["tos-upload.test"], "SessionKey": "session-key-1"}}})
    rsps.post(f"http://jimeng.test/upload/v1/{store_uri}", json={"code": 2000, "message": "Success"})
    rsps.post(ROOT_URL, match=[matchers.query_param_matcher({"Action": "CommitImageUpload"}, strict_match=False)],
              json={"ResponseMetadata": {"RequestId": "r"}, "Result": {
                  "Results": [{"Uri": store_uri, "UriStatus": 2000}],
                  "PluginResult": [{"ImageUri": store_uri, "ImageWidth": 8, "ImageHeight": 8, "ImageFormat": "png"}]}})
    rsps.post(ALGO_URL, json=envelope({}))
