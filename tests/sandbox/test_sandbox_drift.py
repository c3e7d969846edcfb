"""Drift drills: told that Jimeng moved, the sandbox refuses today's client as Jimeng refuses an
outdated one, and its page sends the new values."""
import json
import re

import pytest

from sandbox import create_sandbox
from sandbox.drift import parse_drift
from sandbox.page import PAGE_CALLS
from tests.sandbox.wire import Jimeng, jimeng_sign

HISTORY = "/mweb/v1/get_history"
ACCOUNT = "/passport/account/info/v2"
LIST = {"count": 5, "offset": 0, "history_type_list": [10], "mode": "workbench"}


def drifted(clock, spec: str) -> Jimeng:
    app = create_sandbox({"clock": clock, "drift": spec})
    return Jimeng(app.test_client(use_cookies=False), clock)


def test_without_drift_todays_client_is_served(jimeng):
    assert jimeng.call(HISTORY, LIST)["ret"] == "0"


def test_a_newer_da_version_refuses_the_old_one_with_3018(clock):
    jimeng = drifted(clock, "da_version=3.3.31")

    refused = jimeng.call(HISTORY, LIST, query={"da_version": "3.3.28"})
    served = jimeng.call(HISTORY, LIST, query={"da_version": "3.3.31"})

    assert (refused["ret"], refused["errmsg"]) == ("3018", "permission denied: da_version 3.3.28 is outdated")
    assert served["ret"] == "0"


def test_a_newer_app_version_refuses_the_old_one_with_3018(clock):
    jimeng = drifted(clock, "app_version=8.5.0")
    device_time = str(int(clock()))

    refused = jimeng.call(ACCOUNT, None)
    served = jimeng.call(ACCOUNT, None, headers={"Appvr": "8.5.0", "Device-Time": device_time,
                                                 "Sign": jimeng_sign(ACCOUNT, device_time, appvr="8.5.0")})

    assert refused["ret"] == "3018" and "Appvr" in refused["errmsg"]
    assert served["ret"] == "0"


def test_a_new_required_header_is_asked_of_every_call(clock):
    jimeng = drifted(clock, "header=X-Jm-Client:web2")

    assert jimeng.call(HISTORY, LIST)["ret"] == "3018"
    assert jimeng.call(HISTORY, LIST, headers={"X-Jm-Client": "web2"})["ret"] == "0"


def test_a_new_required_query_parameter_is_an_invalid_parameter(clock):
    jimeng = drifted(clock, "query=web_tab:video")

    refused = jimeng.call(HISTORY, LIST)

    assert refused["ret"] == "1000" and "web_tab" in refused["errmsg"]
    assert jimeng.call(HISTORY, LIST, query={"web_tab": "video"})["ret"] == "0"


def test_a_renamed_body_field_refuses_the_old_name(clock):
    jimeng = drifted(clock, "rename=count:page_size")

    refused = jimeng.call(HISTORY, LIST)
    renamed = {("page_size" if k == "count" else k): v for k, v in LIST.items()}

    assert (refused["ret"], refused["errmsg"]) == ("1000", "invalid parameter: count")
    assert jimeng.call(HISTORY, renamed)["ret"] == "0"


def test_a_retired_model_key_is_no_longer_listed(clock):
    jimeng = drifted(clock, "retire=dreamina_seedance_40_mini")

    listed = jimeng.call("/mweb/v1/video_generate/get_common_config", {"scene": "generate_video"})

    assert "dreamina_seedance_40_mini" not in [m["model_req_key"] for m in listed["data"]["model_list"]]


@pytest.mark.parametrize("spec, message", [
    ("da_version", "write kind=value"), ("da_version=new", "must be a version"),
    ("header=X-A", "looks like header=name:value"), ("moved=1", "unknown change 'moved'")])
def test_a_malformed_drift_is_refused_with_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_drift(spec)


def test_the_page_makes_its_calls_with_the_drifted_constants(clock):
    app = create_sandbox({"clock": clock, "drift": "da_version=3.3.31,app_version=8.5.0,header=X-Jm-Client:web2,"
                                                   "rename=count:page_size"})

    html = app.test_client().get("/ai-tool/video/generate").get_data(as_text=True)
    config = json.loads(re.search(r"window.__SANDBOX_APP = (\{.*?\});</script>", html).group(1))

    assert (config["daVersion"], config["appvr"]) == ("3.3.31", "8.5.0")
    assert config["headers"] == {"X-Jm-Client": "web2"} and config["renames"] == {"count": "page_size"}
    device_time = str(config["deviceTime"])
    assert config["signs"] == {path: jimeng_sign(path, device_time, appvr="8.5.0") for path in PAGE_CALLS}
    assert 'src="/obj/image-lvweb-buz/common/scripts/app-sandbox.js"' in html


def test_the_page_without_drift_sends_todays_constants(app):
    html = app.test_client().get("/ai-tool/video/generate").get_data(as_text=True)
    config = json.loads(re.search(r"window.__SANDBOX_APP = (\{.*?\});</script>", html).group(1))

    assert (config["daVersion"], config["appvr"], config["headers"]) == ("3.3.28", "8.4.0", {})
