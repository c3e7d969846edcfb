"""Every video mode through POST /v1/videos/generations: media uploaded, the mode's draft on the wire."""
import base64
import io
import json

import pytest
import responses

from tests.api.helpers import auth
from tests.jimeng_fakes import (ALGO_URL, GENERATE_URL, IMAGE_STORE_URI, envelope, generate_answer,
                                register_image_flow, register_video_flow)
from tests.media_samples import make_mp4, make_png


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


PNG_URI = data_uri(make_png(8, 8), "image/png")


@pytest.fixture
def jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register_image_flow(rsps)
        register_video_flow(rsps, duration=5.0)
        rsps.post(ALGO_URL, json=envelope({}))
        rsps.post(GENERATE_URL, json=generate_answer())
        yield rsps


def sent_input(rsps) -> tuple[dict, dict, dict]:
    """(body, draft, video_gen_inputs[0]) of the generate call."""
    body = json.loads(next(c for c in rsps.calls if c.request.url.startswith(GENERATE_URL)).request.body)
    draft = json.loads(body["draft_content"])
    params = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]
    return body, draft, params["video_gen_inputs"][0]


def submit(client, body=None, **kw):
    resp = client.post("/v1/videos/generations", headers=auth("sess"), json=body, **kw)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_first_and_last_frame(client, jimeng):
    submit(client, {"prompt": "morph", "filePaths": [PNG_URI, PNG_URI], "model": "jimeng-video-3.0",
                    "resolution": "1080p"})
    _, _, first = sent_input(jimeng)
    assert first["first_frame_image"]["uri"] == first["end_frame_image"]["uri"] == IMAGE_STORE_URI
    assert first["resolution"] == "1080p"


def test_multi_frame(client, jimeng):
    frames = [{"image": PNG_URI, "prompt": "sit", "duration": 2},
              {"image": PNG_URI, "prompt": "stand", "duration_ms": 3000},
              {"image_url": PNG_URI, "prompt": "jump", "duration": 1.5}]
    submit(client, {"function_mode": "multi_frame", "model": "jimeng-video-3.0", "frames": frames})
    _, draft, gen = sent_input(jimeng)
    assert draft["min_features"] == ["AIGC_GenerateType_VideoMultiFrame"]
    assert [f["duration_ms"] for f in gen["multi_frames"]] == [2000, 3000, 1500]
    assert [f["prompt"] for f in gen["multi_frames"]] == ["sit", "stand", "jump"] and gen["duration_ms"] == 6500


def test_multi_frame_in_multipart_with_frame_image_files(client, jimeng):
    frames = json.dumps([{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": 2}])
    submit(client, None, content_type="multipart/form-data", data={
        "function_mode": "multi_frame", "model": "jimeng-video-3.0", "frames": frames,
        "frame_image_1": (io.BytesIO(make_png()), "1.png"), "frame_image_2": (io.BytesIO(make_png()), "2.png")})
    _, _, gen = sent_input(jimeng)
    assert len(gen["multi_frames"]) == 2


def test_main_reference_cites_images_in_prompt_order(client, jimeng):
    submit(client, {"function_mode": "main_reference", "model": "jimeng-video-3.0",
                    "prompt": "[图0] 中的猫在[图1]的地板上跑", "file_paths": [PNG_URI, PNG_URI]})
    _, draft, gen = sent_input(jimeng)
    assert draft["min_features"] == ["AIGC_GenerateType_VideoIdipFrame"]
    metas = [(m["meta_type"], m.get("frame_info", {}).get("image_idx"), m["text"]) for m in gen["idip_meta_list"]]
    assert metas == [("idip_frame", 0, ""), ("text", None, " 中的猫在"), ("idip_frame", 1, ""),
                     ("text", None, "的地板上跑")]
    assert len(gen["idip_frames"]) == 2


def test_omni_reference_with_an_image_file_and_a_video_url(client, jimeng):
    submit(client, None, content_type="multipart/form-data", data={
        "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0", "duration": "8",
        "prompt": "@cat.png dances like @video_file_1",
        "image_file_1": (io.BytesIO(make_png()), "cat.png", "image/png"),
        "video_file_1": data_uri(make_mp4(4.0), "video/mp4")})
    body, draft, gen = sent_input(jimeng)
    assert draft["min_features"] == ["AIGC_Video_UnifiedEdit"]
    assert [m["material_type"] for m in gen["unified_edit_input"]["material_list"]] == ["image", "video"]
    refs = [m.get("material_ref", {}).get("material_idx") for m in gen["unified_edit_input"]["meta_list"]]
    assert refs == [0, None, 1]
    assert body["extend"]["m_video_commerce_info"]["benefit_type"] == "dreamina_video_seedance_20_pro_with_video"
    assert gen["duration_ms"] == 8000


def test_omni_videos_longer_than_15_s_are_refused_before_upload(client):
    with responses.RequestsMock() as rsps:
        resp = client.post("/v1/videos/generations", headers=auth("sess"), json={
            "function_mode": "omni_reference", "model": "jimeng-video-seedance-2.0", "prompt": "x",
            "video_file_1": data_uri(make_mp4(9.0), "video/mp4"), "video_file_2": data_uri(make_mp4(9.0), "video/mp4")})
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "video_file"
        assert len(rsps.calls) == 0


def test_a_video_where_an_image_belongs_is_refused(client):
    with responses.RequestsMock() as rsps:
        resp = client.post("/v1/videos/generations", headers=auth("sess"), json={
            "prompt": "x", "file_paths": [data_uri(make_mp4(2.0), "video/mp4")]})
        assert resp.status_code in (400, 415) and resp.get_json()["error"]["param"] == "file_paths[0]"
        assert len(rsps.calls) == 0


def test_private_address_urls_are_refused(client):
    with responses.RequestsMock() as rsps:
        resp = client.post("/v1/videos/generations", headers=auth("sess"), json={
            "prompt": "x", "file_paths": ["http://169.254.169.254/latest/meta-data/"]})
        assert resp.status_code == 400 and "not public" in resp.get_json()["error"]["message"]
        assert len(rsps.calls) == 0
