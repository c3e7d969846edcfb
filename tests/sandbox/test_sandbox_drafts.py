"""Generate bodies the real Jimeng would refuse with ret 1000 "invalid parameter" (protocol 3, 6)."""
import json
import uuid

import pytest

from tests.sandbox.wire import ASSETS, image_body, image_ref, video_body

SEEDANCE = "dreamina_seedance_40_pro"
SEEDANCE_BENEFIT = "dreamina_video_seedance_20_pro"
SEEDANCE_VIDEO_BENEFIT = "dreamina_video_seedance_20_pro_with_video"   # omni with a video material
VGFM_30 = "dreamina_ic_generate_video_model_vgfm_3.0"
BASIC = "basic_video_operation_vgfm_v_three"


def refused(jimeng, body, **kwargs) -> str:
    answer = jimeng.submit(body, **kwargs)
    assert answer["ret"] == "1000", answer
    return answer["errmsg"]


def accepted(jimeng, body, **kwargs) -> dict:
    answer = jimeng.submit(body, **kwargs)
    assert answer["ret"] == "0", answer
    return answer["data"]["aigc_data"]


def omni_inputs(images=(), videos=(), refs=None) -> dict:
    materials = [{"type": "", "id": str(uuid.uuid4()), "material_type": "image", "image_info": image_ref(uri)}
                 for uri in images]
    materials += [{"type": "", "id": str(uuid.uuid4()), "material_type": "video",
                   "video_info": {"type": "video", "id": str(uuid.uuid4()), "source_from": "upload", "name": "",
                                  "vid": vid, "fps": 0, "width": 160, "height": 96, "duration": 2000}}
                  for vid in videos]
    if refs is None:
        refs = [("image" if i < len(images) else "video", i) for i in range(len(materials))]
    meta = [{"meta_type": "text", "text": "look at "}]
    meta += [{"meta_type": kind, "text": "", "material_ref": {"material_idx": idx}} for kind, idx in refs]
    return {"prompt": "", "min_version": "3.3.9",
            "unified_edit_input": {"type": "", "id": str(uuid.uuid4()), "material_list": materials, "meta_list": meta}}


def omni_body(**inputs_kwargs) -> dict:
    benefit = SEEDANCE_VIDEO_BENEFIT if inputs_kwargs.get("videos") else SEEDANCE_BENEFIT
    return video_body(model=SEEDANCE, benefit=benefit, features=["AIGC_Video_UnifiedEdit"],
                      inputs=omni_inputs(**inputs_kwargs))


def multi_frame_body(uris, durations, total=None) -> dict:
    frames = [{"type": "", "id": str(uuid.uuid4()), "idx": i, "duration_ms": ms, "prompt": f"frame {i}",
               "media_info": {"type": "", "id": str(uuid.uuid4()), "media_type": 1, "image_info": image_ref(uri)}}
              for i, (uri, ms) in enumerate(zip(uris, durations))]
    return video_body(model=VGFM_30, benefit=BASIC, duration_ms=total if total is not None else sum(durations),
                      features=["AIGC_GenerateType_VideoMultiFrame"],
                      inputs={"prompt": "", "video_mode": 1, "multi_frames": frames})


def main_reference_body(uris, cited) -> dict:
    meta = [{"type": "", "id": str(uuid.uuid4()), "meta_type": "idip_frame", "text": "",
             "frame_info": {"type": "", "id": str(uuid.uuid4()), "image_idx": i}} for i in cited]
    meta.append({"type": "", "id": str(uuid.uuid4()), "meta_type": "text", "text": " runs"})
    return video_body(model=VGFM_30, benefit=BASIC, features=["AIGC_GenerateType_VideoIdipFrame"],
                      inputs={"prompt": "", "idip_frames": [image_ref(u) for u in uris], "idip_meta_list": meta})


def test_unknown_model_is_refused(jimeng):
    assert "model_req_key" in refused(jimeng, video_body(model="dreamina_video_9000", benefit=BASIC))


def test_root_model_must_equal_model_req_key(jimeng):
    body = video_body()
    body["extend"]["root_model"] = VGFM_30
    assert "root_model" in refused(jimeng, body)


def test_benefit_type_must_match_the_model(jimeng):
    assert "benefit_type" in refused(jimeng, video_body(benefit=BASIC))


def test_duration_must_be_one_the_model_allows(jimeng):
    assert "duration_ms" in refused(jimeng, video_body(duration_ms=8000))


@pytest.mark.parametrize("fps", [30, 0, "24", None])
def test_fps_must_be_one_the_model_makes(jimeng, fps):
    """Every model's drafts carry 24 today (protocol 3.1, the server's own option schema: fps in {24})."""
    assert "fps" in refused(jimeng, video_body(inputs={"fps": fps}))


def test_seedance_takes_any_whole_second_from_4_to_15(jimeng):
    accepted(jimeng, video_body(model=SEEDANCE, benefit="dreamina_video_seedance_20_pro", duration_ms=13000))


def test_ratio_must_be_documented(jimeng):
    assert "video_aspect_ratio" in refused(jimeng, video_body(ratio="5:4"))


def test_model_not_offered_in_the_region_is_refused(jimeng):
    body = video_body(model="dreamina_veo3_generate_video", benefit="generate_video_veo3", duration_ms=8000)
    assert "region cn" in refused(jimeng, body)
    body["http_common_info"]["aid"] = 513641
    body["extend"]["workspace_id"] = jimeng.workspace_id(region="hk")
    accepted(jimeng, body, region="hk")


def test_frame_image_must_be_uploaded_by_the_same_session(jimeng, png):
    uri = jimeng.upload_image(png, session="sess-bob")["ImageUri"]
    body = video_body(inputs={"first_frame_image": image_ref(uri)})
    assert "not uploaded by this session" in refused(jimeng, body, session="sess-alice")
    accepted(jimeng, body, session="sess-bob")


def test_end_frame_without_first_frame_is_refused(jimeng, png):
    uri = jimeng.upload_image(png)["ImageUri"]
    assert "end_frame_image" in refused(jimeng, video_body(inputs={"end_frame_image": image_ref(uri)}))


def test_multi_frame_durations_must_add_up(jimeng, png):
    uris = [jimeng.upload_image(png)["ImageUri"] for _ in range(2)]
    accepted(jimeng, multi_frame_body(uris, [3000, 4000]))
    assert "sum" in refused(jimeng, multi_frame_body(uris, [3000, 4000], total=5000))
    assert "1000..6000" in refused(jimeng, multi_frame_body(uris, [500, 4000]))


def test_multi_frame_needs_two_frames(jimeng, png):
    uri = jimeng.upload_image(png)["ImageUri"]
    assert "multi_frames" in refused(jimeng, multi_frame_body([uri], [5000]))


def test_main_reference_citations_must_be_in_range(jimeng, png):
    uris = [jimeng.upload_image(png)["ImageUri"] for _ in range(2)]
    accepted(jimeng, main_reference_body(uris, [0, 1]))
    assert "image_idx 2" in refused(jimeng, main_reference_body(uris, [0, 2]))
    assert "at least one" in refused(jimeng, main_reference_body(uris, []))


def test_mode_needs_its_min_features_flag(jimeng, png):
    uris = [jimeng.upload_image(png)["ImageUri"] for _ in range(2)]
    body = main_reference_body(uris, [0])
    draft = json.loads(body["draft_content"])
    draft["min_features"] = []
    body["draft_content"] = json.dumps(draft)
    assert "AIGC_GenerateType_VideoIdipFrame" in refused(jimeng, body)


def test_omni_reference_accepts_uploaded_images_and_videos(jimeng, png, mp4):
    uri = jimeng.upload_image(png)["ImageUri"]
    vid = jimeng.upload_video(mp4)["Vid"]
    accepted(jimeng, omni_body(images=[uri], videos=[vid]))


def test_omni_reference_is_only_for_seedance(jimeng, png):
    uri = jimeng.upload_image(png)["ImageUri"]
    body = video_body(features=["AIGC_Video_UnifiedEdit"], inputs=omni_inputs(images=[uri]))
    assert "Seedance" in refused(jimeng, body)


def test_omni_reference_with_a_video_material_needs_the_with_video_benefit(jimeng, png, mp4):
    uri = jimeng.upload_image(png)["ImageUri"]
    vid = jimeng.upload_video(mp4)["Vid"]
    body = video_body(model=SEEDANCE, benefit=SEEDANCE_BENEFIT, features=["AIGC_Video_UnifiedEdit"],
                      inputs=omni_inputs(images=[uri], videos=[vid]))
    assert SEEDANCE_VIDEO_BENEFIT in refused(jimeng, body)
    images_only = video_body(model=SEEDANCE, benefit=SEEDANCE_VIDEO_BENEFIT, features=["AIGC_Video_UnifiedEdit"],
                             inputs=omni_inputs(images=[uri]))
    assert repr(SEEDANCE_BENEFIT) in refused(jimeng, images_only)


def test_omni_reference_citation_must_point_at_a_material_of_its_type(jimeng, png, mp4):
    uri = jimeng.upload_image(png)["ImageUri"]
    vid = jimeng.upload_video(mp4)["Vid"]
    assert "material_idx 5" in refused(jimeng, omni_body(images=[uri], refs=[("image", 5)]))
    assert "is a image" in refused(jimeng, omni_body(images=[uri], videos=[vid], refs=[("video", 0)]))


def test_omni_reference_refuses_more_than_15_seconds_of_video(jimeng):
    vid = jimeng.upload_video((ASSETS / "long.mp4").read_bytes())["Vid"]
    assert "15 s" in refused(jimeng, omni_body(videos=[vid]))


def test_omni_reference_refuses_a_video_of_another_session(jimeng, mp4):
    vid = jimeng.upload_video(mp4, session="sess-bob")["Vid"]
    assert "not uploaded by this session" in refused(jimeng, omni_body(videos=[vid]))


def test_text_to_image_with_a_known_model_is_accepted(jimeng):
    assert accepted(jimeng, image_body())["total_image_count"] == 4


def test_unknown_image_model_is_refused(jimeng):
    assert "image model" in refused(jimeng, image_body(model="high_aes_general_v14:general_v1.4"))


def test_blend_needs_uploaded_images(jimeng, png):
    uri = jimeng.upload_image(png)["ImageUri"]
    accepted(jimeng, image_body(blend_uris=(uri,)))
    assert "not uploaded" in refused(jimeng, image_body(blend_uris=("tos-cn-i-tb4s082cfz/" + "0" * 32,)))


@pytest.mark.parametrize("field", ["draft_content", "metrics_extra"])
def test_json_string_fields_must_parse(jimeng, field):
    body = video_body()
    body[field] = "{not json"
    assert field in refused(jimeng, body)


def test_http_common_info_aid_must_be_the_region_aid(jimeng):
    assert "http_common_info.aid" in refused(jimeng, video_body(aid=513641))


SEEDANCE_25 = "dreamina_seedance_45_pro"


def test_seedance_25_takes_its_per_resolution_benefit(jimeng):
    body = video_body(model=SEEDANCE_25, benefit="seedance_25_1080p_output", duration_ms=15000,
                      inputs={"resolution": "1080p"})
    assert accepted(jimeng, body)["status"] in (20, 42, 45)


def test_seedance_25_refuses_a_benefit_for_another_resolution(jimeng):
    body = video_body(model=SEEDANCE_25, benefit="seedance_25_720p_output", inputs={"resolution": "1080p"})
    assert "seedance_25_1080p_output" in refused(jimeng, body)


def test_seedance_25_refuses_4k_and_more_than_15_seconds(jimeng):
    assert "4k" in refused(jimeng, video_body(model=SEEDANCE_25, benefit="seedance_25_4k_output",
                                              inputs={"resolution": "4k"}))
    assert "16000" in refused(jimeng, video_body(model=SEEDANCE_25, benefit="seedance_25_720p_output",
                                                 duration_ms=16000))
