"""The OpenAI video mapper on its own: size and seconds tables, aliases, the Video object."""
import pytest

from app import errors
from app.services.openai_shapes import (STATUS, ratio_and_resolution, reference_files, resolve_alias, size_of,
                                        size_table, submit_fields, video_from_state, video_model, video_object)
from app.services.submitting import MediaInput, SubmittedTask
from app.services.tasks import TaskState
from app.jimeng.models import DEFAULT_VIDEO_MODEL, VIDEO_MODELS

V30 = VIDEO_MODELS["jimeng-video-3.0"]          # 720p and 1080p
V35 = VIDEO_MODELS["jimeng-video-3.5-pro"]      # 720p only; 5, 10 or 12 s


@pytest.mark.parametrize("size, expected", [("1280x720", ("16:9", "720p")), ("720x1280", ("9:16", "720p")),
                                            ("720x720", ("1:1", "720p")), ("960x720", ("4:3", "720p")),
                                            ("1680x720", ("21:9", "720p")), ("1920x1080", ("16:9", "1080p")),
                                            (" 1080 X 1440 ", ("3:4", "1080p"))])
def test_size_maps_to_ratio_and_resolution(size, expected):
    assert ratio_and_resolution(size, V30) == expected


def test_every_size_in_the_table_maps_back_to_itself():
    for size, (ratio, resolution) in size_table(V30.resolutions).items():
        assert size_of(ratio, resolution) == size


def test_a_size_the_model_lacks_is_a_400_naming_the_allowed_ones():
    with pytest.raises(errors.InvalidRequest) as caught:
        ratio_and_resolution("1920x1080", V35)
    assert caught.value.param == "size"
    assert "1280x720" in caught.value.message and "720x1280" in caught.value.message
    assert "1920x1080" not in caught.value.message.split(";")[0]


@pytest.mark.parametrize("size", ["1792x1024", "big", "", "1280x720x3"])
def test_unknown_or_malformed_sizes_are_refused(size):
    with pytest.raises(errors.InvalidRequest):
        ratio_and_resolution(size, V30)


def test_seconds_becomes_duration_and_a_value_the_model_lacks_is_a_400():
    assert submit_fields({"prompt": "p", "seconds": "10"}, V35, None)["duration"] == 10
    with pytest.raises(errors.InvalidRequest) as caught:
        submit_fields({"prompt": "p", "seconds": "4"}, V35, None)
    assert caught.value.param == "seconds" and "5, 10, 12" in caught.value.message


def test_our_own_fields_pass_through_so_every_mode_is_reachable():
    fields = submit_fields({"prompt": "p", "function_mode": "omni_reference", "ratio": "9:16",
                            "video_file_1": "https://x/v.mp4"}, V35, "jimeng-video-3.5-pro")
    assert fields == {"prompt": "p", "function_mode": "omni_reference", "ratio": "9:16",
                      "video_file_1": "https://x/v.mp4", "model": "jimeng-video-3.5-pro"}


def test_size_and_a_disagreeing_ratio_is_a_400_not_a_silent_choice():
    with pytest.raises(errors.InvalidRequest) as caught:
        submit_fields({"prompt": "p", "size": "1280x720", "ratio": "1:1"}, V35, None)
    assert caught.value.param == "size"
    assert submit_fields({"prompt": "p", "size": "1280x720", "ratio": "16:9"}, V35, None)["ratio"] == "16:9"


@pytest.mark.parametrize("reference", ["https://x/a.png", {"image_url": "https://x/a.png"}])
def test_input_reference_becomes_the_first_image(reference):
    assert submit_fields({"prompt": "p", "input_reference": reference}, V35, None)["image_file"] == "https://x/a.png"


def test_an_openai_file_id_reference_is_refused_clearly():
    with pytest.raises(errors.InvalidRequest) as caught:
        submit_fields({"prompt": "p", "input_reference": {"file_id": "file-1"}}, V35, None)
    assert caught.value.param == "input_reference" and "file_id" in caught.value.message


def test_aliases_are_off_unless_configured_and_default_means_the_region_default():
    assert resolve_alias("sora-2", {}, "cn", DEFAULT_VIDEO_MODEL) == "sora-2"
    aliases = {"sora-2": "default", "sora-2-pro": "jimeng-video-3.0"}
    assert resolve_alias("sora-2", aliases, "us", DEFAULT_VIDEO_MODEL) == DEFAULT_VIDEO_MODEL["us"]
    assert resolve_alias("sora-2-pro", aliases, "cn", DEFAULT_VIDEO_MODEL) == "jimeng-video-3.0"
    assert resolve_alias(None, aliases, "cn", DEFAULT_VIDEO_MODEL) is None


def test_status_words_are_openais():
    assert STATUS == {"pending": "queued", "processing": "in_progress", "completed": "completed",
                      "failed": "failed"}


def test_a_failed_video_has_an_error_object_and_a_finished_one_progress_100():
    failed = video_object("t", "failed", progress=60, created=10, model="m", seconds=5, size="1280x720",
                          completed_at=20, error_code="content_rejected", error="no")
    assert failed["error"] == {"code": "content_rejected", "message": "no"} and failed["completed_at"] == 20
    done = video_object("t", "completed", progress=99, created=10, model="m", seconds=5, size="1280x720",
                        completed_at=20)
    assert (done["progress"], done["error"], done["seconds"], done["object"]) == (100, None, "5", "video")
    running = video_object("t", "processing", progress=40, created=10, model="m", seconds=5, size="1280x720",
                           completed_at=20)
    assert (running["status"], running["completed_at"]) == ("in_progress", None)


def test_the_video_object_parses_as_the_official_sdk_type():
    from openai.types import Video

    video = Video.model_validate(video_object("t", "pending", progress=0, created=10, model="jimeng-video-3.0",
                                              seconds=5, size="1280x720"))
    assert (video.status, video.seconds, video.size, video.progress) == ("queued", "5", "1280x720", 0)


def test_a_task_the_record_does_not_describe_yet_takes_its_size_and_seconds_from_the_submit():
    submitted = SubmittedTask(task_id="t", created=10, model="jimeng-video-3.0", ratio="9:16", resolution="1080p",
                              duration=10)
    video = video_from_state(TaskState(task_id="t", status="pending", progress=0, created=10,
                                       model="jimeng-video-3.0"), submitted, "a lighthouse")
    assert (video["size"], video["seconds"], video["prompt"], video["status"]) == ("1080x1920", "10", "a lighthouse",
                                                                                    "queued")


def test_a_task_state_without_record_or_submit_has_empty_facts_never_invented_ones():
    video = video_from_state(TaskState(task_id="t", status="failed", progress=30, created=10, model=None,
                                       error="cancelled while queued", error_code="cancelled"))
    assert (video["size"], video["seconds"], video["model"], "prompt" in video) == ("", "", "", False)
    assert video["error"] == {"code": "cancelled", "message": "cancelled while queued"}


def test_a_task_with_a_webhook_shows_its_state():
    state = TaskState(task_id="t", status="processing", progress=40, created=10, model="jimeng-video-3.0",
                      webhook={"host": "hooks.example", "status": "pending", "attempts": 0, "last_status": None})
    assert video_from_state(state)["webhook"]["status"] == "pending"


def test_an_uploaded_input_reference_is_the_first_frame_and_not_beside_an_image_file():
    files = [MediaInput(field="input_reference", filename="a.png")]
    assert [f.field for f in reference_files(files, {})] == ["image_file"]
    with pytest.raises(errors.InvalidRequest) as caught:
        reference_files([MediaInput(field="input_reference", filename="a.png")], {"image_file": "https://x/b.png"})
    assert caught.value.param == "input_reference"


def test_a_create_names_a_model_an_alias_or_none_and_an_unknown_one_is_a_400():
    assert video_model(None, {}, "us") == (VIDEO_MODELS[DEFAULT_VIDEO_MODEL["us"]], None)
    assert video_model("sora-2", {"sora-2": "jimeng-video-3.0"}, "cn") == (V30, "jimeng-video-3.0")
    with pytest.raises(errors.UnsupportedModel) as caught:
        video_model("sora-2", {}, "cn")
    assert caught.value.param == "model" and "jimeng-video-3.0" in caught.value.message
