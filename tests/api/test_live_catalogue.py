"""The live catalogue at the HTTP boundary: get_common_config decides what an account can use now,
and its failure never fails a submit."""
import json

import pytest
import responses

from app.factory import create_app
from tests.api.helpers import auth
from tests.conftest import UPSTREAM
from tests.jimeng_fakes import GENERATE_URL, envelope, generate_answer

CONFIG_URL = f"{UPSTREAM}/mweb/v1/video_generate/get_common_config"
WORKSPACES_URL = f"{UPSTREAM}/mweb/v1/workspace/list"
S25, VIP, VGFM35 = "dreamina_seedance_45_pro", "dreamina_seedance_40_pro_vision", \
    "dreamina_ic_generate_video_model_vgfm_3.5_pro"


@pytest.fixture
def live(clock):
    app = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "LIVE_CATALOGUE": True})
    app.extensions["clock"] = clock
    app.extensions["jimeng_client"].clock = clock
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app.test_client()


def entry(key, status=0, resolutions=("720p",), benefits=None):
    benefits = benefits or {}
    return {"model_req_key": key, "model_status": status,
            "options": [{"key": "resolution", "enum_val": {"string_value": list(resolutions)}}],
            "commercial_config": {"resolution_price_configs": [
                {"resolution": r, "price": {"benefit_type": b}} for r, b in benefits.items()]}}


def config(*entries):
    return envelope({"model_list": list(entries)})


def sent_generate():
    calls = [c for c in responses.calls if c.request.url.startswith(GENERATE_URL)]
    return [json.loads(c.request.body) for c in calls]


@responses.activate
def test_a_model_the_account_cannot_use_is_400_naming_the_available_ones(live):
    responses.post(CONFIG_URL, json=config(entry(S25), entry(VIP, status=1), entry(VGFM35)))
    resp = live.post("/v1/videos/generations", json={"prompt": "a cat", "model": "jimeng-video-seedance-2.0-vip"},
                     headers=auth("sess"))
    error = resp.get_json()["error"]
    assert resp.status_code == 400 and error["code"] == "model_unavailable" and error["param"] == "model"
    assert "jimeng-video-seedance-2.5" in error["message"] and "jimeng-video-3.5-pro" in error["message"]
    assert "available: " in error["message"] and "seedance-2.0-vip," not in error["message"]
    assert sent_generate() == []


@responses.activate
def test_a_model_missing_from_the_live_list_is_unavailable(live):
    responses.post(CONFIG_URL, json=config(entry(S25)))
    resp = live.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "model_unavailable"


@pytest.mark.parametrize("failure", [
    {"status": 500, "body": "oops"}, {"json": {"ret": "1014", "errmsg": "system busy"}},
    {"json": {"ret": "0", "data": {"model_list": "reshaped"}}}, {"body": "<html>not json</html>"},
])
@responses.activate
def test_a_failed_config_read_falls_back_to_the_static_table(live, failure, caplog):
    responses.post(CONFIG_URL, **failure)
    responses.post(GENERATE_URL, json=generate_answer())
    resp = live.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("sess-secret-1"))
    assert resp.status_code == 200, resp.get_json()
    assert len(sent_generate()) == 1
    assert "sess-secret-1" not in caplog.text


@responses.activate
def test_the_config_is_read_once_per_account_while_cached(live):
    responses.post(CONFIG_URL, json=config(entry(VGFM35)))
    responses.post(GENERATE_URL, json=generate_answer())
    for _ in range(3):
        assert live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess")).status_code == 200
    assert live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("other")).status_code == 200
    assert len([c for c in responses.calls if c.request.url.startswith(CONFIG_URL)]) == 2


@responses.activate
def test_live_resolutions_and_benefits_are_what_gets_sent(live):
    responses.post(CONFIG_URL, json=config(entry(S25, resolutions=("480p", "720p", "1080p", "2k"), benefits={
        "720p": "seedance_25_720p_output", "2k": "seedance_25_2k_output_v2"})))
    responses.post(GENERATE_URL, json=generate_answer())
    resp = live.post("/v1/videos/generations", json={"prompt": "x", "model": "jimeng-video-seedance-2.5",
                                                     "resolution": "2k"}, headers=auth("sess"))
    assert resp.status_code == 200, resp.get_json()
    body = sent_generate()[0]
    assert body["extend"]["m_video_commerce_info"]["benefit_type"] == "seedance_25_2k_output_v2"
    draft = json.loads(body["draft_content"])
    inp = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
    assert inp["resolution"] == "2k"


@responses.activate
def test_a_2061_names_the_available_models_and_is_remembered(live):
    responses.post(CONFIG_URL, json=config(entry(S25), entry(VGFM35)))
    responses.post(GENERATE_URL, json={"ret": "2061", "errmsg": "model no longer available", "data": None})
    first = live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess"))
    error = first.get_json()["error"]
    assert first.status_code == 400 and error["code"] == "model_unavailable" and error["upstream_code"] == "2061"
    assert "jimeng-video-seedance-2.5" in error["message"] and "3.5-pro," not in error["message"]
    again = live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess"))
    assert again.status_code == 400 and again.get_json()["error"]["code"] == "model_unavailable"
    assert len(sent_generate()) == 1                    # the second one never reached Jimeng


@responses.activate
def test_with_several_tokens_an_account_that_offers_the_model_is_chosen(live):
    def by_account(request):
        vip = "sessionid=vip-acct" in request.headers["Cookie"]
        return 200, {}, json.dumps(config(entry(VIP, status=0 if vip else 1)))
    responses.add_callback(responses.POST, CONFIG_URL, callback=by_account)
    responses.post(GENERATE_URL, json=generate_answer())
    for _ in range(4):
        resp = live.post("/v1/videos/generations", json={"prompt": "x", "model": "jimeng-video-seedance-2.0-vip"},
                         headers=auth("plain-acct", "vip-acct"))
        assert resp.status_code == 200, resp.get_json()
    generates = [c for c in responses.calls if c.request.url.startswith(GENERATE_URL)]
    assert all("sessionid=vip-acct" in c.request.headers["Cookie"] for c in generates)


@responses.activate
def test_models_with_a_token_lists_what_the_account_can_use(live):
    responses.post(CONFIG_URL, json=config(entry(S25, resolutions=("720p", "1080p")), entry(VIP, status=1)))
    data = live.get("/v1/models", headers=auth("sess")).get_json()["data"]
    video = {m["id"]: m for m in data if m["type"] == "video"}
    assert set(video) == {"jimeng-video-seedance-2.5"}
    assert video["jimeng-video-seedance-2.5"]["resolutions"] == ["720p", "1080p"]
    assert any(m["type"] == "image" for m in data)


def test_models_without_a_token_is_the_static_table(live):
    video = [m for m in live.get("/v1/models").get_json()["data"] if m["type"] == "video"]
    assert {"jimeng-video-seedance-2.0-vip", "jimeng-video-seedance-2.5", "jimeng-video-3.5-pro"} <= {
        m["id"] for m in video}
    assert next(m for m in video if m["id"] == "jimeng-video-seedance-2.0-vip")["vip"] is True


@responses.activate
def test_an_abroad_submit_names_the_accounts_workspace_once_read(live):
    responses.post(CONFIG_URL, json=config(entry(VGFM35)))
    responses.post(WORKSPACES_URL, json=envelope({"workspace_list": [
        {"workspace_id": "111", "create_time": 10}, {"workspace_id": 249443284237, "create_time": 20}]}))
    responses.post(GENERATE_URL, json=generate_answer())
    for _ in range(2):
        assert live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("us-sess")).status_code == 200
    assert [b["extend"]["workspace_id"] for b in sent_generate()] == [249443284237, 249443284237]
    assert len([c for c in responses.calls if c.request.url.startswith(WORKSPACES_URL)]) == 1


@responses.activate
def test_a_cn_submit_sends_no_workspace(live):
    responses.post(CONFIG_URL, json=config(entry(VGFM35)))
    responses.post(GENERATE_URL, json=generate_answer())
    assert live.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("sess")).status_code == 200
    assert "workspace_id" not in sent_generate()[0]["extend"]
    assert not [c for c in responses.calls if c.request.url.startswith(WORKSPACES_URL)]


@responses.activate
def test_a_bad_request_is_refused_before_the_catalogue_is_read(live):
    resp = live.post("/v1/videos/generations", json={"prompt": "x", "model": "jimeng-video-seedance-2.5",
                                                     "duration": 16}, headers=auth("sess"))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "duration"
    assert len(responses.calls) == 0
