"""Parsing Jimeng's live catalogue and merging it over the static table; the per-account cache."""
import pytest
import responses

from app.jimeng.client import JimengClient
from app.jimeng.live_catalogue import parse_common_config
from app.jimeng.models import VIDEO_MODELS
from app.jimeng.regions import parse_token
from app.services.catalogue import LiveCatalogue
from tests.jimeng_fakes import envelope

S25 = VIDEO_MODELS["jimeng-video-seedance-2.5"]
MINI = VIDEO_MODELS["jimeng-video-seedance-2.0-mini"]
CONFIG_URL = "http://jimeng.test/mweb/v1/video_generate/get_common_config"


@pytest.mark.parametrize("data", [
    {}, {"model_list": None}, {"model_list": "x"}, {"model_list": []}, {"model_list": [1, "a", None]},
    {"model_list": [{"model_req_key": "something_new_only", "model_status": 0}]},
])
def test_an_answer_without_a_usable_model_list_means_no_live_data(data):
    assert parse_common_config(data) is None


def test_status_resolutions_and_benefits_are_read_and_merged():
    live = parse_common_config({"model_list": [
        {"model_req_key": S25.req_key, "model_status": 0,
         "options": [{"key": "duration", "enum_val": {"string_value": ["5"]}},
                     {"key": "resolution", "enum_val": {"string_value": ["480p", "720p"]}}],
         "commercial_config": {"resolution_price_configs": [
             {"resolution": "480p", "price": {"benefit_type": "s25_480"}}, {"resolution": "720p", "price": None}]}},
        {"model_req_key": MINI.req_key, "model_status": "2", "options": "garbage", "commercial_config": []},
    ]})
    assert live.offers(S25) and not live.offers(MINI)
    assert not live.offers(VIDEO_MODELS["jimeng-video-3.0"])            # not listed: not offered
    merged = live.merged(S25)
    assert merged.resolutions == ("720p", "480p")                        # our default stays first
    assert merged.benefit_for("first_last_frames", "480p") == "s25_480"
    assert merged.benefit_for("first_last_frames", "720p") == "seedance_25_720p_output"
    assert live.merged(MINI).resolutions == MINI.resolutions


def test_a_multi_resolution_live_model_sends_its_resolution():
    live = parse_common_config({"model_list": [{"model_req_key": MINI.req_key, "options": [
        {"key": "resolution", "enum_val": {"string_value": ["720p", "1080p"]}}]}]})
    assert not MINI.sends_resolution and live.merged(MINI).sends_resolution


@responses.activate
def test_the_cache_expires_and_a_failure_is_retried_after_a_short_while():
    now = [0.0]
    catalogue = LiveCatalogue(ttl=300, clock=lambda: now[0])
    client = JimengClient(upstream_url="http://jimeng.test", sleep=lambda s: None, read_attempts=1)
    token = parse_token("sess")
    responses.post(CONFIG_URL, status=502)
    assert catalogue.for_token(client, token).live is None
    now[0] = 10
    assert catalogue.for_token(client, token).live is None and len(responses.calls) == 1
    responses.replace(responses.POST, CONFIG_URL, json=envelope({"model_list": [{"model_req_key": S25.req_key}]}))
    now[0] = 40
    assert catalogue.for_token(client, token).offers(S25) and len(responses.calls) == 2
    now[0] = 200
    catalogue.for_token(client, token)
    assert len(responses.calls) == 2
    now[0] = 400
    catalogue.for_token(client, token)
    assert len(responses.calls) == 3


def test_disabled_means_the_static_table():
    catalogue = LiveCatalogue(enabled=False)
    account = catalogue.for_token(JimengClient(upstream_url="http://jimeng.test"), parse_token("us-sess"))
    assert account.live is None and account.offers(S25)
    assert not account.offers(VIDEO_MODELS["jimeng-video-seedance-2.0"])   # CN only
