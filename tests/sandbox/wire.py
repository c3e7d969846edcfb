"""A client that speaks Jimeng's wire protocol as the protocol document describes it, a fake
clock, and generate-body builders. Written here, not imported from `app`, so the sandbox tests
check the sandbox against the document, not against the service."""
from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
import uuid
import zlib
from pathlib import Path

import requests
from requests_aws4auth import AWS4Auth

from sandbox import shark

ASSETS = Path(__file__).resolve().parents[2] / "sandbox" / "assets"
WEB_ID = "7412345678901234567"
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/142.0.0.0 Safari/537.36")
REGION_QUERY = {"cn": ("513695", "cn"), "us": ("513641", "US"), "hk": ("513641", "HK"),
                "jp": ("513641", "JP"), "sg": ("513641", "SG")}
SIGV4_REGION = {"cn": "cn-north-1", "us": "us-east-1", "hk": "ap-southeast-1"}


class FakeClock:
    """Starts at real time (SigV4 signers stamp real time) and only moves when told."""

    def __init__(self, start: float | None = None) -> None:
        self.now = float(int(start if start is not None else time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def jimeng_sign(path: str, device_time: str, pf: str = "7", appvr: str = "8.4.0") -> str:
    return hashlib.md5(f"9e2c|{path[-7:]}|{pf}|{appvr}|{device_time}||11ac".encode()).hexdigest()


class Jimeng:
    """Calls the sandbox the way a correct client does; every part can be overridden to break it."""

    def __init__(self, client, clock: FakeClock) -> None:
        self.client, self.clock = client, clock

    def request_parts(self, path: str, session: str, region: str) -> tuple[dict, dict, dict]:
        aid, region_value = REGION_QUERY[region]
        device_time = str(int(self.clock()))
        headers = {"Appvr": "8.4.0", "Pf": "7", "Appid": aid, "Device-Time": device_time, "Sign-Ver": "1",
                   "Sign": jimeng_sign(path, device_time), "App-Sdk-Version": "48.0.0", "User-Agent": USER_AGENT}
        query = {"aid": aid, "device_platform": "web", "region": region_value, "da_version": "3.3.9",
                 "os": "windows", "web_component_open_flag": "1", "web_version": "7.5.0",
                 "aigc_features": "app_lip_sync"}
        cookies = {"is_staff_user": "false", "sid_guard": f"{session}%7C{device_time}%7C5184000%7CMon%2C+03-Feb"
                   "-2025+08%3A17%3A09+GMT", "sid_tt": session, "sessionid": session, "sessionid_ss": session}
        if region == "cn":
            query["webId"] = WEB_ID
            cookies["_tea_web_id"] = WEB_ID
        else:   # Dreamina's app names the account's country (update 2.6)
            headers.update({"Loc": region_value, "Store-Country-Code": region_value.lower(),
                            "Store-Country-Code-Src": "uid"})
        return headers, query, cookies

    def call(self, path: str, body: dict | None = None, *, session: str = "sess-alice", region: str = "cn",
             headers: dict | None = None, query: dict | None = None, cookies: dict | None = None,
             drop: tuple[str, ...] = (), page_signed: bool = True) -> dict:
        """POST one API call and answer the parsed envelope. `drop` removes headers/params/cookies.
        `page_signed`: append msToken and the signatures as Jimeng's page script does (update 2.3)."""
        base_headers, base_query, base_cookies = self.request_parts(path, session, region)
        base_headers.update(headers or {})
        base_query.update(query or {})
        base_cookies.update(cookies if cookies is not None else {})
        for name in drop:
            for part in (base_headers, base_query, base_cookies):
                part.pop(name, None)
        base_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in base_cookies.items())
        base_headers["Content-Type"] = "application/json"
        raw_body = json.dumps(body or {}, separators=(",", ":"), ensure_ascii=False).encode()
        query_string = urllib.parse.urlencode(base_query)
        if page_signed:
            query_string = page_sign(query_string, raw_body, base_headers.get("User-Agent", ""),
                                     abroad=base_query.get("aid") == "513641")
        response = self.client.post(f"{path}?{query_string}", headers=base_headers, data=raw_body)
        assert response.status_code == 200, response.data
        return response.get_json()

    def data(self, path: str, body: dict | None = None, **kwargs) -> dict:
        answer = self.call(path, body, **kwargs)
        assert answer["ret"] == "0", answer
        return answer["data"]

    # -- uploads ----------------------------------------------------------------------------
    def upload_token(self, scene: int, session: str = "sess-alice", region: str = "cn") -> dict:
        return self.data("/mweb/v1/get_upload_token", {"scene": scene}, session=session, region=region)

    def signed(self, method: str, query: dict, token: dict, service: str, body: bytes = b"",
               secret: str | None = None, session_token: str | None = None, region: str = "cn"):
        """Send one ImageX/VOD call signed by requests-aws4auth (which also signs `host`)."""
        auth = AWS4Auth(token["access_key_id"], secret or token["secret_access_key"], SIGV4_REGION[region], service,
                        session_token=session_token or token["session_token"])
        headers = {"Content-Type": "application/json"} if body else {}
        prepared = requests.Request(method, "http://localhost/", params=query, data=body or None,
                                    headers=headers).prepare()
        auth(prepared)
        path_and_query = prepared.path_url
        return self.client.open(path_and_query, method=method, headers=dict(prepared.headers), data=prepared.body)

    def upload_node(self, host_path: str, auth: str, data: bytes, crc: str | None = None):
        return self.client.post(host_path, data=data, headers={
            "Authorization": auth, "Content-CRC32": crc if crc is not None else f"{zlib.crc32(data):08x}",
            "Content-Type": "application/octet-stream"})

    def upload_image(self, data: bytes, session: str = "sess-alice", region: str = "cn") -> dict:
        """The whole ImageX chain of protocol 4.1; answers the commit's PluginResult[0]."""
        token = self.upload_token(2, session, region)
        service_id = token.get("service_id") or token["space_name"]
        applied = self.signed("GET", {"Action": "ApplyImageUpload", "Version": "2018-08-01", "ServiceId": service_id,
                                      "FileSize": str(len(data)), "s": "abc123"}, token, "imagex", region=region)
        address = applied.get_json()["Result"]["UploadAddress"]
        store = address["StoreInfos"][0]
        node = self.upload_node(f"/upload/v1/{store['StoreUri']}", store["Auth"], data)
        assert node.get_json()["code"] == 2000
        body = json.dumps({"SessionKey": address["SessionKey"]}).encode()
        committed = self.signed("POST", {"Action": "CommitImageUpload", "Version": "2018-08-01",
                                         "ServiceId": service_id}, token, "imagex", body=body, region=region)
        assert committed.status_code == 200, committed.get_json()
        return committed.get_json()["Result"]["PluginResult"][0]

    def upload_video(self, data: bytes, session: str = "sess-alice") -> dict:
        """The whole VOD chain of protocol 4.3; answers the commit's Results[0]."""
        token = self.upload_token(1, session)
        space = token["space_name"]
        applied = self.signed("GET", {"Action": "ApplyUploadInner", "Version": "2020-11-19", "SpaceName": space,
                                      "FileType": "video", "IsInner": "1", "FileSize": str(len(data)),
                                      "s": "xyz"}, token, "vod")
        node = applied.get_json()["Result"]["InnerUploadAddress"]["UploadNodes"][0]
        store = node["StoreInfos"][0]
        assert self.upload_node(f"/upload/v1/{store['StoreUri']}", store["Auth"], data).get_json()["code"] == 2000
        body = json.dumps({"SessionKey": node["SessionKey"], "Functions": []}).encode()
        committed = self.signed("POST", {"Action": "CommitUploadInner", "Version": "2020-11-19",
                                         "SpaceName": space}, token, "vod", body=body)
        assert committed.status_code == 200, committed.get_json()
        return committed.get_json()["Result"]["Results"][0]

    # -- generate ---------------------------------------------------------------------------
    def submit(self, body: dict, **kwargs) -> dict:
        return self.call("/mweb/v1/aigc_draft/generate", body, **kwargs)

    def workspace_id(self, **kwargs):
        """The account's workspace id from workspace/list (abroad generate must carry it)."""
        return self.data("/mweb/v1/workspace/list", {}, **kwargs)["workspace_list"][0]["workspace_id"]

    def history(self, *, history_ids=(), submit_ids=(), **kwargs) -> dict:
        body = {}
        if history_ids:
            body["history_ids"] = list(history_ids)
        if submit_ids:
            body["submit_ids"] = list(submit_ids)
        return self.data("/mweb/v1/get_history_by_ids", body, **kwargs)


def page_sign(query_string: str, body: bytes, user_agent: str, *, abroad: bool) -> str:
    """What the sandbox's page script appends to a protected call's query (sandbox/page_sdk.js)."""
    query = f"{query_string}&msToken={shark.issue_ms_token()}"
    names = ((("X-Bogus", shark.X_BOGUS_KEY), ("X-Gnarly", shark.X_GNARLY_KEY)) if abroad
             else (("a_bogus", shark.A_BOGUS_KEY),))
    for name, key in names:
        query += f"&{name}=" + shark.signature(key, query.encode(), body, user_agent)
    return query


def _ids() -> dict:
    return {"type": "", "id": str(uuid.uuid4())}


def image_ref(uri: str) -> dict:
    return {"format": "", "height": 0, "id": str(uuid.uuid4()), "image_uri": uri, "name": "", "platform_type": 1,
            "source_from": "upload", "type": "image", "uri": uri, "width": 0}


def video_body(prompt: str = "a cat", *, model: str = "dreamina_ic_generate_video_model_vgfm_3.5_pro",
               benefit: str = "dreamina_video_seedance_15_pro", duration_ms: int = 5000, ratio: str = "16:9",
               features: list | None = None, inputs: dict | None = None, aid: int = 513695) -> dict:
    """A generate body shaped like protocol 3.2/3.3; `inputs` replaces/extends video_gen_inputs[0]."""
    submit_id = str(uuid.uuid4())
    given = {**_ids(), "min_version": "3.0.5", "prompt": prompt, "video_mode": 2, "fps": 24,
             "duration_ms": duration_ms, "idip_meta_list": [], **(inputs or {})}
    component_id = str(uuid.uuid4())
    metrics = json.dumps({"promptSource": "custom", "originSubmitId": submit_id}, separators=(",", ":"))
    draft = {"type": "draft", "id": str(uuid.uuid4()), "min_version": "3.0.5", "min_features": features or [],
             "is_from_tsn": True, "version": "3.3.9", "main_component_id": component_id,
             "component_list": [{"type": "video_base_component", "id": component_id, "min_version": "1.0.0",
                                 "aigc_mode": "workbench", "generate_type": "gen_video",
                                 "abilities": {**_ids(), "gen_video": {**_ids(), "text_to_video_params": {
                                     **_ids(), "video_gen_inputs": [given], "video_aspect_ratio": ratio,
                                     "seed": 1234, "model_req_key": model, "priority": 0},
                                     "video_task_extra": metrics}},
                                 "process_type": 1}]}
    commerce = {"benefit_type": benefit, "resource_id": "generate_video", "resource_id_type": "str",
                "resource_sub_type": "aigc"}
    return {"extend": {"root_model": model, "m_video_commerce_info": commerce,
                       "m_video_commerce_info_list": [dict(commerce)]},
            "submit_id": submit_id, "metrics_extra": metrics,
            "draft_content": json.dumps(draft, separators=(",", ":"), ensure_ascii=False),
            "http_common_info": {"aid": aid}}


def image_body(prompt: str = "a cat", *, model: str = "high_aes_general_v40l", blend_uris: tuple = (),
               aid: int = 513695, gen_count: int | None = None, ratio_code: int = 1,
               size: tuple[int, int] = (2048, 2048), resolution: str = "2k") -> dict:
    """A text-to-image (or, with `blend_uris`, image-to-image) body shaped like protocol 6.3 with the
    2026 update's count (`abilities.gen_option.gen_count`)."""
    core = {**_ids(), "model": model, "prompt": prompt, "sample_strength": 0.5, "image_ratio": ratio_code,
            "large_image_info": {**_ids(), "height": size[1], "width": size[0], "resolution_type": resolution},
            "intelligent_ratio": False, "negative_prompt": "", "generate_type": 0}
    gen_option = {**_ids(), "generate_all": False}
    if gen_count is not None:
        gen_option["gen_count"] = gen_count
    if blend_uris:
        abilities = {**_ids(), "blend": {**_ids(), "min_features": [], "core_param": core, "ability_list": [
            {**_ids(), "name": "byte_edit", "image_uri_list": [uri], "image_list": [image_ref(uri)], "strength": 0.5}
            for uri in blend_uris], "prompt_placeholder_info_list": [
            {**_ids(), "ability_index": i} for i in range(len(blend_uris))]}, "gen_option": gen_option}
    else:
        abilities = {**_ids(), "generate": {**_ids(), "core_param": core}, "gen_option": gen_option}
    component_id = str(uuid.uuid4())
    draft = {"type": "draft", "id": str(uuid.uuid4()), "min_version": "3.0.2", "min_features": [],
             "is_from_tsn": True, "version": "3.3.28", "main_component_id": component_id,
             "component_list": [{"type": "image_base_component", "id": component_id, "min_version": "3.0.2",
                                 "aigc_mode": "workbench", "generate_type": "blend" if blend_uris else "generate",
                                 "abilities": abilities}]}
    submit_id = str(uuid.uuid4())
    return {"extend": {"root_model": model}, "submit_id": submit_id,
            "metrics_extra": json.dumps({"promptSource": "custom", "generateId": submit_id}),
            "draft_content": json.dumps(draft, separators=(",", ":"), ensure_ascii=False),
            "http_common_info": {"aid": aid}}
