"""The upload chain (protocol 4): SigV4 on ImageX/VOD, upload nodes with Auth and CRC32, commits."""
import datetime
import hashlib
import hmac
import json

import requests
from requests_aws4auth import AWS4Auth

from tests.sandbox.wire import ASSETS

IMAGE_APPLY = {"Action": "ApplyImageUpload", "Version": "2018-08-01", "FileSize": "469", "s": "k3j4"}


def apply_image(jimeng, token, **kwargs):
    query = {**IMAGE_APPLY, "ServiceId": token["service_id"]}
    return jimeng.signed("GET", query, token, "imagex", **kwargs)


def test_upload_token_names_the_cn_image_service(jimeng):
    token = jimeng.upload_token(2)
    assert token["service_id"] == "tb4s082cfz"
    assert token["access_key_id"] and token["secret_access_key"] and token["session_token"]


def test_abroad_image_token_names_a_space(jimeng):
    assert jimeng.upload_token(2, region="hk")["space_name"] == "wopfjsm1ax"


def test_upload_token_needs_a_known_scene(jimeng):
    assert jimeng.call("/mweb/v1/get_upload_token", {"scene": 3})["ret"] == "1000"


def test_correctly_signed_apply_is_accepted(jimeng):
    answer = apply_image(jimeng, jimeng.upload_token(2))
    address = answer.get_json()["Result"]["UploadAddress"]
    assert answer.status_code == 200
    assert address["StoreInfos"][0]["StoreUri"].startswith("tos-cn-i-tb4s082cfz/")
    assert address["StoreInfos"][0]["Auth"] and address["UploadHosts"][0] and address["SessionKey"]


def test_apply_signed_with_a_wrong_secret_is_refused(jimeng):
    answer = apply_image(jimeng, jimeng.upload_token(2), secret="not-the-secret")
    assert answer.status_code == 403
    assert answer.get_json()["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"


def test_apply_with_another_session_token_is_refused(jimeng):
    answer = apply_image(jimeng, jimeng.upload_token(2), session_token="STS2forged")
    assert answer.status_code == 403
    assert answer.get_json()["ResponseMetadata"]["Error"]["Code"] == "InvalidSecurityToken"


def test_apply_with_a_tampered_query_is_refused(jimeng, client):
    token = jimeng.upload_token(2)
    query = {**IMAGE_APPLY, "ServiceId": token["service_id"]}
    prepared = requests.Request("GET", "http://localhost/", params=query).prepare()
    AWS4Auth(token["access_key_id"], token["secret_access_key"], "cn-north-1", "imagex",
             session_token=token["session_token"])(prepared)
    tampered = prepared.path_url.replace("FileSize=469", "FileSize=470")
    assert client.get(tampered, headers=dict(prepared.headers)).status_code == 403


def test_signature_without_host_like_iptag_is_accepted(jimeng, client, clock):
    """iptag signs only x-amz-date;x-amz-security-token (protocol 4.2): any declared set verifies."""
    token = jimeng.upload_token(2)
    amz_date = datetime.datetime.fromtimestamp(clock(), datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    query = "Action=ApplyImageUpload&FileSize=469&ServiceId=tb4s082cfz&Version=2018-08-01&s=k3j4"
    canonical = "\n".join(["GET", "/", query, f"x-amz-date:{amz_date}\nx-amz-security-token:{token['session_token']}\n",
                           "x-amz-date;x-amz-security-token", hashlib.sha256(b"").hexdigest()])
    scope = f"{amz_date[:8]}/cn-north-1/imagex/aws4_request"
    key = ("AWS4" + token["secret_access_key"]).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    answer = client.get("/?" + query, headers={
        "x-amz-date": amz_date, "x-amz-security-token": token["session_token"],
        "Authorization": f"AWS4-HMAC-SHA256 Credential={token['access_key_id']}/{scope}, "
                         f"SignedHeaders=x-amz-date;x-amz-security-token, Signature={signature}"})
    assert answer.status_code == 200, answer.get_json()


def test_video_token_cannot_apply_for_an_image_upload(jimeng):
    video_token = jimeng.upload_token(1)
    answer = jimeng.signed("GET", {**IMAGE_APPLY, "ServiceId": "tb4s082cfz"}, video_token, "imagex")
    assert answer.get_json()["ResponseMetadata"]["Error"]["Code"] == "AccessDenied"


def test_upload_with_a_wrong_crc_is_refused(jimeng, png):
    address = apply_image(jimeng, jimeng.upload_token(2)).get_json()["Result"]["UploadAddress"]
    store = address["StoreInfos"][0]
    answer = jimeng.upload_node(f"/upload/v1/{store['StoreUri']}", store["Auth"], png, crc="deadbeef")
    assert answer.get_json()["code"] != 2000


def test_upload_with_a_wrong_auth_is_refused(jimeng, png):
    address = apply_image(jimeng, jimeng.upload_token(2)).get_json()["Result"]["UploadAddress"]
    store = address["StoreInfos"][0]
    answer = jimeng.upload_node(f"/upload/v1/{store['StoreUri']}", "SpaceKey/forged", png)
    assert answer.get_json()["code"] == 4003


def test_commit_before_upload_is_refused(jimeng):
    token = jimeng.upload_token(2)
    address = apply_image(jimeng, token).get_json()["Result"]["UploadAddress"]
    body = json.dumps({"SessionKey": address["SessionKey"]}).encode()
    answer = jimeng.signed("POST", {"Action": "CommitImageUpload", "Version": "2018-08-01",
                                    "ServiceId": token["service_id"]}, token, "imagex", body=body)
    assert answer.status_code == 400
    assert answer.get_json()["ResponseMetadata"]["Error"]["Code"] == "UploadNotFinished"


def test_image_commit_reports_the_real_size_and_format(jimeng):
    jpeg = (ASSETS / "sample.jpg").read_bytes()
    result = jimeng.upload_image(jpeg)
    assert (result["ImageWidth"], result["ImageHeight"], result["ImageFormat"]) == (64, 48, "jpeg")
    assert result["ImageUri"].startswith("tos-cn-i-tb4s082cfz/")


def test_video_commit_reports_duration_in_seconds(jimeng):
    long_video = jimeng.upload_video((ASSETS / "long.mp4").read_bytes())
    assert long_video["Vid"]
    assert long_video["VideoMeta"]["Duration"] == 16.0
    assert (long_video["VideoMeta"]["Width"], long_video["VideoMeta"]["Height"]) == (64, 48)


def test_image_commit_refuses_bytes_that_are_not_an_image(jimeng):
    token = jimeng.upload_token(2)
    data = b"hello, not an image"
    address = jimeng.signed("GET", {**IMAGE_APPLY, "FileSize": str(len(data)), "ServiceId": token["service_id"]},
                            token, "imagex").get_json()["Result"]["UploadAddress"]
    store = address["StoreInfos"][0]
    assert jimeng.upload_node(f"/upload/v1/{store['StoreUri']}", store["Auth"], data).get_json()["code"] == 2000
    body = json.dumps({"SessionKey": address["SessionKey"]}).encode()
    answer = jimeng.signed("POST", {"Action": "CommitImageUpload", "Version": "2018-08-01",
                                    "ServiceId": token["service_id"]}, token, "imagex", body=body)
    assert answer.get_json()["ResponseMetadata"]["Error"]["Code"] == "InvalidImage"


def test_content_check_accepts_an_uploaded_image(jimeng, png):
    uri = jimeng.upload_image(png)["ImageUri"]
    body = {"scene": "image_face_ip", "options": {"ip_check": True},
            "req_key": "benchmark_test_user_upload_image_input", "file_list": [{"file_uri": uri}], "req_params": {}}
    assert jimeng.call("/mweb/v1/algo_proxy", body)["ret"] == "0"
    assert jimeng.call("/mweb/v1/algo_proxy", body, session="sess-bob")["ret"] == "1000"
