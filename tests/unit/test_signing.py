from app.jimeng import signing
from app.jimeng.regions import parse_token


def test_sign_matches_the_browser_capture():
    # protocol 2.3: device-time 1759223155 on /mweb/v1/aigc_draft/generate signed as below
    assert signing.sign("/mweb/v1/aigc_draft/generate", 1759223155) == "6b509d9f32ed1aa23caf557e9c009471"


def test_sign_uses_only_the_last_seven_path_characters():
    assert signing.sign("/a/b/c/get_history_by_ids", 1) == signing.sign("/x/_by_ids", 1)
    assert signing.sign("/mweb/v1/get_history_by_ids", 1) != signing.sign("/mweb/v1/get_history_by_ids", 2)


def test_headers_sign_with_the_same_device_time_they_send():
    token = parse_token("hk-secret")
    h = signing.headers(token, path="/mweb/v1/get_history_by_ids", origin="https://mweb-api-sg.capcut.com",
                        referer=None, device_time=1700000000)
    assert h["Device-Time"] == "1700000000"
    assert h["Sign"] == signing.sign("/mweb/v1/get_history_by_ids", 1700000000)
    assert (h["Appid"], h["Lan"], h["Loc"]) == ("513641", "en", "HK")
    assert (h["Store-Country-Code"], h["Store-Country-Code-Src"]) == ("hk", "uid")
    assert h["Origin"] == h["Referer"] == "https://mweb-api-sg.capcut.com"


def test_cookies_carry_the_session_without_region_prefix():
    cookie = signing.cookie_header(parse_token("us-abc123"), 1700000000)
    pairs = dict(p.split("=", 1) for p in cookie.split("; "))
    assert pairs["sessionid"] == pairs["sessionid_ss"] == pairs["sid_tt"] == "abc123"
    assert pairs["sid_guard"].startswith("abc123%7C1700000000%7C5184000%7C")
    assert pairs["_tea_web_id"] == signing.device_ids(parse_token("us-abc123"))[0]
    assert pairs["uid_tt"] == pairs["uid_tt_ss"] == signing.device_ids(parse_token("us-abc123"))[1]


def test_web_id_is_sent_only_in_cn_and_matches_the_cookie():
    token = parse_token("abc")
    cn = signing.default_params(token)
    us = signing.default_params(parse_token("us-abc"))
    cookies = dict(p.split("=", 1) for p in signing.cookie_header(token, 1).split("; "))
    assert cn["webId"] == cookies["_tea_web_id"] and len(cn["webId"]) == 19 and cn["webId"].startswith("7")
    assert "webId" not in us and us["region"] == "US" and us["aid"] == "513641"


def test_device_ids_are_the_accounts_own_and_the_same_in_every_process():
    """Workers share one browser whose context keeps an account's first cookies: every worker must
    send that account the same webId, and two accounts must not look like one device."""
    import subprocess
    import sys
    code = "from app.jimeng import signing, regions; print(signing.device_ids(regions.parse_token('abc')))"
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other_process.stdout.strip() == str(signing.device_ids(parse_token("abc")))
    assert signing.device_ids(parse_token("abc")) != signing.device_ids(parse_token("abd"))
    assert signing.device_ids(parse_token("abc")) != signing.device_ids(parse_token("us-abc"))
    assert "abc" not in "".join(signing.device_ids(parse_token("abc")))


def test_each_region_sends_its_place_and_language_as_dreaminas_app_does():
    """Update 2.6: `loc` upper case, `store-country-code` lower case, `store-country-code-src: uid`
    abroad; CN unchanged (protocol 2.2 capture: `loc: cn`, no store-country-code)."""
    def sent(token):
        h = signing.headers(parse_token(token), path="/mweb/v1/aigc_draft/generate", origin="https://x.test",
                            referer=None, device_time=1)
        return (h["Lan"], h["Loc"], h.get("Store-Country-Code"), h.get("Store-Country-Code-Src"),
                h["Accept-Language"])

    assert sent("abc") == ("zh-Hans", "cn", None, None, "zh-CN,zh;q=0.9")
    assert sent("us-abc") == ("en", "US", "us", "uid", "en-US,en;q=0.9")
    assert sent("sg-abc") == ("en", "SG", "sg", "uid", "en-US,en;q=0.9")
    assert sent("jp-abc") == ("ja", "JP", "jp", "uid", "ja-JP,ja;q=0.9")


def test_browser_identity_speaks_the_regions_language_and_cns_by_default():
    assert signing.browser_identity()["Accept-Language"] == "zh-CN,zh;q=0.9"
    assert signing.browser_identity(parse_token("us-abc").region)["Accept-Language"] == "en-US,en;q=0.9"
