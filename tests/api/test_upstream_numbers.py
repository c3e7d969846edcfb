"""Numbers in Jimeng's answers that are not finite whole numbers (1e999, Infinity, NaN, "²") are
read as absent, never as a 500. Jimeng is mocked at the HTTP boundary with literal JSON text."""
import json

import pytest
import responses

from app.factory import create_app
from tests.api.helpers import auth, task_id_for
from tests.conftest import UPSTREAM
from tests.jimeng_fakes import (GENERATE_URL, HISTORY_URL, LOCAL_ITEMS_URL, envelope, finished_record,
                                generate_answer, local_item, local_items_answer)

CONFIG_URL = f"{UPSTREAM}/mweb/v1/video_generate/get_common_config"
WORKSPACES_URL = f"{UPSTREAM}/mweb/v1/workspace/list"
S25 = "dreamina_seedance_45_pro"
RID, ITEM = "4722540945676", "7605520754297392435"


@pytest.fixture
def live(clock):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "LIVE_CATALOGUE": True})
    app.extensions["jimeng_client"].clock = clock
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app.test_client()


def common_config_with_status(status_text: str) -> str:
    # Literal JSON: 1e999 parses to infinity, "²" is a digit to str.isdigit but not to int().
    return ('{"ret":"0","errmsg":"success","data":{"model_list":['
            f'{{"model_req_key":"{S25}","model_status":0}},'
            f'{{"model_req_key":"dreamina_seedance_40_pro","model_status":{status_text}}}]}}}}')


@pytest.mark.parametrize("status_text", ["1e999", "-1e999", "NaN", '"²"', '"1e999"', "[0]", "true"])
@responses.activate
def test_a_garbage_model_status_is_not_available_and_models_still_answer(live, status_text):
    responses.post(CONFIG_URL, body=common_config_with_status(status_text), content_type="application/json")
    resp = live.get("/v1/models", headers=auth("sess"))
    assert resp.status_code == 200
    video = {m["id"] for m in resp.get_json()["data"] if m["type"] == "video"}
    assert "jimeng-video-seedance-2.5" in video and "jimeng-video-seedance-2.0" not in video


@responses.activate
def test_a_garbage_model_status_does_not_fail_a_submit(live):
    responses.post(CONFIG_URL, body=common_config_with_status("1e999"), content_type="application/json")
    responses.post(GENERATE_URL, json=generate_answer())
    resp = live.post("/v1/videos/generations", json={"prompt": "a cat", "model": "jimeng-video-seedance-2.5"},
                     headers=auth("sess"))
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("bitrate", [float("inf"), float("nan"), "²", [1]])
@responses.activate
def test_an_infinite_bitrate_still_answers_the_completed_task_with_an_hd_url(app, client, clock, bitrate):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: finished_record(RID)}))
    item = local_item(ITEM)
    model = json.loads(item["video"]["video_model"])
    for entry in model["video_list"].values():
        entry["bitrate"] = bitrate
    item["video"]["video_model"] = json.dumps(model)          # inf/nan are written as Infinity/NaN
    responses.post(LOCAL_ITEMS_URL, json=local_items_answer(item))

    resp = client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess"))

    assert resp.status_code == 200
    result = resp.get_json()["result"]
    assert result["hd"] is True and result["url"] != result["preview_url"]


@responses.activate
def test_a_workspace_id_that_only_looks_like_digits_is_skipped(live):
    responses.post(CONFIG_URL, json=envelope({"model_list": [{"model_req_key": "dreamina_ic_generate_video_model_vgfm_3.5_pro",
                                                              "model_status": 0}]}))
    responses.post(WORKSPACES_URL, json=envelope({"workspace_list": [
        {"workspace_id": "²", "create_time": 30}, {"workspace_id": "249443284237", "create_time": 20}]}))
    responses.post(GENERATE_URL, json=generate_answer())
    resp = live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("us-sess"))
    assert resp.status_code == 200, resp.get_json()
    sent = json.loads([c for c in responses.calls if c.request.url.startswith(GENERATE_URL)][0].request.body)
    assert sent["extend"]["workspace_id"] == 249443284237
