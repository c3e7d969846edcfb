"""The sandbox's live catalogue, account tiers, removed models and abroad workspaces (2026 update)."""
import pytest

from sandbox import create_sandbox
from sandbox.settings import Settings
from tests.sandbox.wire import Jimeng, video_body

CONFIG = "/mweb/v1/video_generate/get_common_config"
SCENE = {"scene": "generate_video", "params": {"needCache": True}}
VIP_KEY, S25 = "dreamina_seedance_40_pro_vision", "dreamina_seedance_45_pro"
LITE = "dreamina_ic_generate_video_model_vgfm_lite"


def listed(jimeng, **kwargs) -> dict:
    return {m["model_req_key"]: m for m in jimeng.data(CONFIG, SCENE, **kwargs)["model_list"]}


def test_vip_keys_are_available_only_to_vip_accounts(jimeng):
    assert listed(jimeng, session="sess-plain")[VIP_KEY]["model_status"] != 0
    assert listed(jimeng, session="vip-alice")[VIP_KEY]["model_status"] == 0
    assert listed(jimeng, session="sess-plain")[S25]["model_status"] == 0


def test_the_config_carries_resolutions_and_their_benefits(jimeng):
    model = listed(jimeng, session="vip-alice")[VIP_KEY]
    resolutions = model["options"][0]["enum_val"]["string_value"]
    assert resolutions == ["720p", "1080p", "4k"]
    prices = {c["resolution"]: c["price"]["benefit_type"] for c in
              model["commercial_config"]["resolution_price_configs"]}
    assert prices["4k"] == "seedance_20_pro_4k_output"


def test_the_config_is_per_region(jimeng):
    assert "dreamina_seedance_40_pro" in listed(jimeng)
    abroad = listed(jimeng, region="hk")
    assert "dreamina_seedance_40_pro" not in abroad and "dreamina_veo3_generate_video" in abroad


def test_both_reported_config_bodies_work_and_others_are_refused(jimeng):
    assert jimeng.call(CONFIG, {"scene": "video_generate"})["ret"] == "0"
    assert jimeng.call(CONFIG, {"scene": "image"})["ret"] == "1000"


def test_removed_models_are_not_listed_and_answer_2061(jimeng):
    assert LITE not in listed(jimeng)
    answer = jimeng.submit(video_body(model=LITE, benefit="basic_video_operation_vgfm_v_three"))
    assert answer["ret"] == "2061"


def test_the_removed_set_is_configurable(clock, monkeypatch):
    monkeypatch.setenv("SANDBOX_REMOVED_MODELS", "dreamina_ic_generate_video_model_vgfm_3.5_pro")
    assert Settings.load().removed_models == {"dreamina_ic_generate_video_model_vgfm_3.5_pro"}
    monkeypatch.setenv("SANDBOX_REMOVED_MODELS", "none")
    app = create_sandbox({"clock": clock})
    jimeng = Jimeng(app.test_client(use_cookies=False), clock)
    assert LITE in listed(jimeng)
    assert jimeng.submit(video_body(model=LITE, benefit="basic_video_operation_vgfm_v_three"))["ret"] == "0"


def test_a_vip_key_from_a_plain_account_is_refused_for_benefits(jimeng):
    body = video_body(model=VIP_KEY, benefit="seedance_20_pro_1080p_output", inputs={"resolution": "1080p"})
    assert jimeng.submit(body, session="sess-plain")["ret"] == "1006"
    body = video_body(model=VIP_KEY, benefit="seedance_20_pro_1080p_output", inputs={"resolution": "1080p"})
    assert jimeng.submit(body, session="vip-alice")["ret"] == "0"


@pytest.mark.parametrize("given", [None, 0, "123", True])
def test_abroad_generate_needs_the_accounts_workspace(jimeng, given):
    body = video_body(aid=513641)
    if given is not None:
        body["extend"]["workspace_id"] = given
    answer = jimeng.submit(body, region="us")
    assert answer["ret"] == "1000" and "workspace_id" in answer["errmsg"]


def test_abroad_generate_with_the_listed_workspace_is_accepted(jimeng):
    body = video_body(aid=513641)
    body["extend"]["workspace_id"] = jimeng.workspace_id(region="us")
    assert jimeng.submit(body, region="us")["ret"] == "0"
    other = jimeng.workspace_id(region="us", session="sess-bob")
    body = video_body(aid=513641)
    body["extend"]["workspace_id"] = other
    assert jimeng.submit(body, region="us")["ret"] == "1000"


def test_cn_has_no_workspace_to_name(jimeng):
    assert jimeng.data("/mweb/v1/workspace/list", {})["workspace_list"] == []
    assert jimeng.submit(video_body())["ret"] == "0"
