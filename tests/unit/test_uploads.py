"""app.jimeng.uploads: the ImageX and VOD upload flows and the CN content check, mocked at HTTP."""
from __future__ import annotations

import calendar
import hashlib
import hmac
import io
import json
import zlib
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import responses

from app import errors
from app.jimeng import constants, uploads
from app.jimeng.assets import Media, UploadedImage, UploadedVideo
from app.jimeng.client import JimengClient
from app.jimeng.regions import parse_token
from tests.jimeng_fakes import (AK, APPLY_IMAGE, APPLY_VIDEO, BASE, IMAGE_STORE_URI, NODE_AUTH, SK, STS,
                                VIDEO_STORE_URI, action, register_image_flow,
                                register_video_flow, upload_token_answer)

NOW = calendar.timegm((2026, 1, 15, 10, 20, 30))
AMZ_DATE = "20260115T102030Z"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + b"\0" * 40
MP4 = b"\0\0\0\x18ftypisom" + b"\0" * 60



@pytest.fixture()
def sleeps() -> list[float]:
    return []


@pytest.fixture()
def client(sleeps) -> JimengClient:
    return JimengClient(upstream_url=BASE, sleep=sleeps.append, clock=lambda: NOW)


def make_media(data: bytes, *, kind: str = "image", field: str = "image_file_1", duration_s: float = 0.0) -> Media:
    return Media(kind=kind, content_type="image/png" if kind == "image" else "video/mp4", filename="a",
                 size=len(data), crc32=f"{zlib.crc32(data):08x}", file=io.BytesIO(data), field=field,
                 duration_s=duration_s)


def steps(calls) -> list[str]:
    names = []
    for call in calls:
        parts = urlsplit(call.request.url)
        query = dict(parse_qsl(parts.query))
        names.append(query.get("Action") or parts.path)
    return names


def expected_signature(request: requests.PreparedRequest, *, signed: list[str], region: str, service: str) -> str:
    """SigV4 as protocol 4.2 spells it out, written independently of requests-aws4auth."""
    query = sorted(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))
    canonical = "\n".join([
        request.method, "/", "&".join(f"{k}={v}" for k, v in query),
        "".join(f"{name}:{request.headers[name]}\n" for name in signed), ";".join(signed),
        hashlib.sha256(request.body or b"").hexdigest()])
    scope = f"{AMZ_DATE[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", AMZ_DATE, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SK).encode()
    for part in (AMZ_DATE[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def assert_signed(request, *, signed: list[str], region: str, service: str) -> None:
    signature = expected_signature(request, signed=signed, region=region, service=service)
    assert request.headers["Authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={AK}/{AMZ_DATE[:8]}/{region}/{service}/aws4_request, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}")
    assert request.headers["x-amz-date"] == AMZ_DATE
    assert request.headers["x-amz-security-token"] == STS


# -- images -------------------------------------------------------------------------------------

@responses.activate
def test_image_flow_calls_token_apply_upload_commit_in_order(client):
    register_image_flow(responses)

    image = uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert image == UploadedImage(uri=IMAGE_STORE_URI, width=1024, height=768, format="png")
    assert steps(responses.calls) == ["/mweb/v1/get_upload_token", "ApplyImageUpload",
                                      f"/upload/v1/{IMAGE_STORE_URI}", "CommitImageUpload"]
    assert json.loads(responses.calls[0].request.body) == {"scene": 2}


@responses.activate
def test_upload_posts_the_raw_bytes_with_their_crc32_and_the_node_auth(client):
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    request = responses.calls[2].request
    assert request.body == PNG
    assert request.headers["Content-CRC32"] == f"{zlib.crc32(PNG):08x}"
    assert request.headers["Authorization"] == NODE_AUTH
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.headers["Content-Disposition"] == 'attachment; filename="undefined"'
    assert request.headers["Content-Length"] == str(len(PNG))


@responses.activate
def test_apply_is_sigv4_signed_for_imagex_in_the_token_region(client):
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    request = responses.calls[1].request
    assert request.method == "GET"
    assert_signed(request, signed=["x-amz-date", "x-amz-security-token"], region="ap-southeast-1",
                  service="imagex")
    assert "x-amz-content-sha256" not in request.headers
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert query["Version"] == "2018-08-01" and query["FileSize"] == str(len(PNG))
    assert query["ServiceId"] == "wopfjsm1ax" and query["device_platform"] == "web"
    assert len(query["s"]) == 10


@responses.activate
def test_commit_body_is_the_session_key_and_its_hash_is_signed(client):
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    request = responses.calls[3].request
    assert json.loads(request.body) == {"SessionKey": "image-session-key"}
    assert request.headers["x-amz-content-sha256"] == hashlib.sha256(request.body).hexdigest()
    assert request.headers["Content-Type"] == "application/json"
    assert_signed(request, signed=["x-amz-content-sha256", "x-amz-date", "x-amz-security-token"],
                  region="ap-southeast-1", service="imagex")


@responses.activate
def test_abroad_uses_space_name_as_service_id(client):
    register_image_flow(responses, token_data={"space_name": "abroadspace", "service_id": "ignored"})

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert dict(parse_qsl(urlsplit(responses.calls[1].request.url).query))["ServiceId"] == "abroadspace"


@responses.activate
def test_cn_uses_service_id_and_cn_north_1(client):
    register_image_flow(responses, token_data={"service_id": "cnservice", "space_name": "ignored"})

    uploads.upload_image(client, parse_token("abc"), make_media(PNG))

    apply = responses.calls[1].request
    query = dict(parse_qsl(urlsplit(apply.url).query))
    assert query["ServiceId"] == "cnservice" and "device_platform" not in query
    assert_signed(apply, signed=["x-amz-date", "x-amz-security-token"], region="cn-north-1", service="imagex")
    assert apply.headers["Origin"] == "https://jimeng.jianying.com"


@responses.activate
def test_storage_requests_look_like_the_browser_and_carry_no_jimeng_cookies(client):
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    for call in responses.calls[1:]:
        headers = call.request.headers
        assert headers["Origin"] == "https://mweb-api-sg.capcut.com"
        assert headers["Referer"] == "https://mweb-api-sg.capcut.com/ai-tool/generate"
        assert headers["sec-fetch-site"] == "cross-site" and headers["Accept"] == "*/*"
        # The same browser identity as the API calls: UA, language and the client-hint trio.
        assert headers["User-Agent"] == constants.CHROME_UA and "Chrome/142" in headers["User-Agent"]
        assert headers["Accept-Language"] == "en-US,en;q=0.9"     # the account's region, as its API calls
        assert headers["Sec-Ch-Ua"] == '"Chromium";v="142", "Google Chrome";v="142", "Not_A Brand";v="99"'
        assert headers["Sec-Ch-Ua-Mobile"] == "?0"
        assert headers["Sec-Ch-Ua-Platform"] == '"Windows"'
        assert "Cookie" not in headers


@responses.activate
def test_a_503_on_apply_is_retried(client, sleeps):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", status=503, match=action("ApplyImageUpload"))
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert steps(responses.calls) == ["/mweb/v1/get_upload_token", "ApplyImageUpload", "ApplyImageUpload",
                                      f"/upload/v1/{IMAGE_STORE_URI}", "CommitImageUpload"]
    assert sleeps == [0.5]


@responses.activate
def test_apply_that_keeps_failing_is_upstream_unavailable_naming_the_step(client, sleeps):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", status=502, match=action("ApplyImageUpload"))

    with pytest.raises(errors.UpstreamUnavailable, match="image upload failed at the apply step") as exc:
        uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert len(responses.calls) == 1 + uploads.STEP_ATTEMPTS
    assert sleeps == [0.5, 1.0]
    assert all(secret not in exc.value.message for secret in (AK, SK, STS))


@responses.activate
def test_a_dropped_upload_connection_is_retried_with_the_whole_file(client):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", json=APPLY_IMAGE, match=action("ApplyImageUpload"))
    responses.post(f"{BASE}/upload/v1/{IMAGE_STORE_URI}", body=requests.ConnectionError("reset"))
    register_image_flow(responses)

    uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    upload_calls = [c for c in responses.calls if "/upload/v1/" in c.request.url]
    assert [c.request.body for c in upload_calls] == [PNG, PNG]


@responses.activate
def test_upload_answer_other_than_2000_is_an_error_naming_the_upload_step(client):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", json=APPLY_IMAGE, match=action("ApplyImageUpload"))
    responses.post(f"{BASE}/upload/v1/{IMAGE_STORE_URI}", json={"code": 4004, "message": "crc32 mismatch"})

    with pytest.raises(errors.UpstreamError, match="at the upload step .*4004") as exc:
        uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert exc.value.http_status == 502
    assert len(responses.calls) == 3   # a definite refusal is not repeated


@responses.activate
def test_imagex_error_names_the_step_without_leaking_credentials(client):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", status=403, match=action("ApplyImageUpload"), json={
        "ResponseMetadata": {"Error": {"Code": "SignatureDoesNotMatch",
                                       "Message": f"signature of {AK} with token {STS} is wrong"}}})

    with pytest.raises(errors.UpstreamError, match="apply step \\(SignatureDoesNotMatch\\)") as exc:
        uploads.upload_image(client, parse_token("hk-abc"), make_media(PNG))

    assert all(secret not in exc.value.message for secret in (AK, SK, STS))


@responses.activate
def test_a_video_is_not_accepted_as_an_image(client):
    with pytest.raises(errors.InvalidRequest) as exc:
        uploads.upload_image(client, parse_token("hk-abc"), make_media(MP4, kind="video", field="image_file_1"))
    assert exc.value.param == "image_file_1"
    assert len(responses.calls) == 0


# -- videos -------------------------------------------------------------------------------------

@responses.activate
def test_video_flow_calls_token_apply_upload_commit_in_order(client):
    register_video_flow(responses, duration=5.04)

    video = uploads.upload_video(client, parse_token("hk-abc"), make_media(MP4, kind="video", field="video_file_1"))

    assert video == UploadedVideo(vid="v0committed", width=1280, height=720, duration_ms=5040)
    assert steps(responses.calls) == ["/mweb/v1/get_upload_token", "ApplyUploadInner",
                                      f"/upload/v1/{VIDEO_STORE_URI}", "CommitUploadInner"]
    assert json.loads(responses.calls[0].request.body) == {"scene": 1}
    apply, upload, commit = (c.request for c in responses.calls[1:])
    query = dict(parse_qsl(urlsplit(apply.url).query))
    assert query["SpaceName"] == "dreamina"            # the fallback: the token answer had no space_name
    assert (query["Version"], query["FileType"], query["IsInner"]) == ("2020-11-19", "video", "1")
    assert_signed(apply, signed=["x-amz-date", "x-amz-security-token"], region="ap-southeast-1", service="vod")
    assert upload.body == MP4 and upload.headers["Content-CRC32"] == f"{zlib.crc32(MP4):08x}"
    assert json.loads(commit.body) == {"SessionKey": "video-session-key", "Functions": []}
    assert_signed(commit, signed=["x-amz-content-sha256", "x-amz-date", "x-amz-security-token"],
                  region="ap-southeast-1", service="vod")


@responses.activate
def test_video_space_comes_from_the_token_answer(client):
    register_video_flow(responses, token_data={"space_name": "myspace"})

    uploads.upload_video(client, parse_token("abc"), make_media(MP4, kind="video"))

    apply = responses.calls[1].request
    assert dict(parse_qsl(urlsplit(apply.url).query))["SpaceName"] == "myspace"
    assert "/cn-north-1/vod/" in apply.headers["Authorization"]


@responses.activate
def test_video_measured_longer_than_15s_by_vod_is_refused(client):
    register_video_flow(responses, duration=15.6)

    with pytest.raises(errors.InvalidRequest, match="video_file_1 is 15.6 s long") as exc:
        uploads.upload_video(client, parse_token("hk-abc"), make_media(MP4, kind="video", field="video_file_1"))

    assert exc.value.param == "video_file_1"


@responses.activate
def test_video_known_to_be_too_long_is_refused_before_uploading(client):
    media = make_media(MP4, kind="video", field="video_file_2", duration_s=20.0)

    with pytest.raises(errors.InvalidRequest) as exc:
        uploads.upload_video(client, parse_token("hk-abc"), media)

    assert exc.value.param == "video_file_2"
    assert len(responses.calls) == 0


@responses.activate
def test_video_upload_answer_other_than_2000_names_the_upload_step(client):
    responses.post(f"{BASE}/mweb/v1/get_upload_token", json=upload_token_answer())
    responses.get(f"{BASE}/", json=APPLY_VIDEO, match=action("ApplyUploadInner"))
    responses.post(f"{BASE}/upload/v1/{VIDEO_STORE_URI}", json={"code": 5000, "message": "bad"})

    with pytest.raises(errors.UpstreamError, match="video upload failed at the upload step"):
        uploads.upload_video(client, parse_token("hk-abc"), make_media(MP4, kind="video"))


# -- content check ------------------------------------------------------------------------------

ALGO_PROXY = f"{BASE}/mweb/v1/algo_proxy"


@responses.activate
def test_cn_content_check_refusal_is_content_rejected(client):
    responses.post(ALGO_PROXY, json={"ret": "2003", "errmsg": "risk not pass", "data": None})

    with pytest.raises(errors.ContentRejected) as exc:
        uploads.check_image_content(client, parse_token("abc"), IMAGE_STORE_URI, field="image_file_1")

    assert exc.value.param == "image_file_1"
    request = responses.calls[0].request
    query = dict(parse_qsl(urlsplit(request.url).query))
    assert json.loads(query["babi_param"]) == {
        "scenario": "image_video_generation", "feature_key": "aigc_to_image",
        "feature_entrance": "to-generate", "feature_entrance_detail": "to-generate-algo_proxy"}
    assert json.loads(request.body) == {
        "scene": "image_face_ip", "options": {"ip_check": True},
        "req_key": "benchmark_test_user_upload_image_input", "file_list": [{"file_uri": IMAGE_STORE_URI}],
        "req_params": {}}


@responses.activate
def test_content_check_message_with_detected_risk_is_content_rejected(client):
    responses.post(ALGO_PROXY, json={"ret": "4003", "errmsg": "image detected risk", "data": None})

    with pytest.raises(errors.ContentRejected):
        uploads.check_image_content(client, parse_token("abc"), IMAGE_STORE_URI, field="image_file_1")


@pytest.mark.parametrize("answer", [{"json": {"ret": "1", "errmsg": "internal error"}},
                                    {"status": 500}, {"body": requests.ConnectionError("down")}])
@responses.activate
def test_other_content_check_failures_are_ignored(client, answer):
    responses.post(ALGO_PROXY, **answer)

    assert uploads.check_image_content(client, parse_token("abc"), IMAGE_STORE_URI) is None


@responses.activate
def test_content_check_passes_quietly(client):
    responses.post(ALGO_PROXY, json={"ret": "0", "errmsg": "success", "data": {}})

    assert uploads.check_image_content(client, parse_token("abc"), IMAGE_STORE_URI) is None
    assert len(responses.calls) == 1


@responses.activate
def test_content_check_is_cn_only(client):
    uploads.check_image_content(client, parse_token("hk-abc"), IMAGE_STORE_URI)

    assert len(responses.calls) == 0
