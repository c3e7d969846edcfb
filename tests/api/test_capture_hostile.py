"""POST /v1/doctor/capture against hostile captures (Chrome-shaped HARs): nesting deeper than any HAR
is refused at once; bodies past the comparison's bounds are listed as not compared, with why, never
a 500; and no cookie or session id of the capture shows in the answer, its settings or the logs,
whatever form and place the capture gives it."""
from __future__ import annotations

import base64
import io
import json
import logging
import secrets
from urllib.parse import quote

import pytest

from app.api.doctor import Pacer
from app.jimeng.har import read_har
from tests.api.test_capture_route import TOKEN, browser_entry, post_capture
from tests.captures import entry, har, har_bytes
from tests.unit.test_capture_diff import video_body

API = "https://jimeng.jianying.com"
HISTORY = f"{API}/mweb/v1/get_history_by_ids?aid=513695"
GENERATE = f"{API}/mweb/v1/aigc_draft/generate?aid=513695&region=cn"


def nested(levels: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def only_call(report: dict) -> dict:
    (call,) = report["comparison"]
    return call


# -- nesting: refused before it costs anything -----------------------------------------------------

@pytest.mark.parametrize("where", ["pages", "request", "response"])
def test_a_capture_nested_deeper_than_any_har_is_refused_naming_the_limit(client, where):
    one = entry(HISTORY, {}, '{"history_ids":["1"]}')
    capture = har(one)
    {"pages": capture["log"], "request": one["request"], "response": one["response"]}[where]["_deep"] = "DEEP"
    raw = json.dumps(capture).replace('"DEEP"', "[" * 20_000 + "]" * 20_000)

    resp = post_capture(client, raw.encode())

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_capture" and "nested deeper than 100 levels" in error["message"]


def test_devtools_deepest_part_an_async_stack_of_32_parents_is_read(client):
    stack: dict = {"callFrames": [{"functionName": "send", "scriptId": "12", "url": f"{API}/app.js",
                                   "lineNumber": 1, "columnNumber": 20}]}
    for _ in range(32):
        stack = {"description": "Promise.then", "callFrames": stack["callFrames"], "parent": stack}
    captured = browser_entry(lambda c: c.history_list(TOKEN, count=20), da_version="3.3.31")
    captured["_initiator"] = {"type": "script", "stack": stack}

    resp = post_capture(client, har_bytes(captured))

    assert resp.status_code == 200 and resp.get_json()["settings"] == ["JIMENG_DA_VERSION=3.3.31"]


def test_reading_a_capture_pauses_between_its_chunks():
    pauses = []
    capture = har_bytes(*[entry(HISTORY, {}, '{"history_ids":["1"]}', response_text="x" * 100_000)] * 20)

    read_har(io.BytesIO(capture), pause=lambda: pauses.append(1))

    assert len(pauses) >= len(capture) // (64 * 1024)


# -- the comparison's bounds: what is left out is said, with why ------------------------------------

def test_a_body_over_the_size_compared_is_listed_as_not_compared(client):
    body = json.dumps({"history_ids": ["1"], "pad": "x" * (1024 * 1024)})

    call = only_call(post_capture(client, har_bytes(entry(HISTORY, {}, body))).get_json())

    assert {"where": "body", "name": "(body)", "reason": f"the browser's body has {len(body):,} characters, "
                                                          f"over the 1,048,576 compared"} in call["not_compared"]


def test_a_body_of_more_values_than_compared_is_listed_as_not_compared_and_the_answer_stays_small(client):
    body = json.dumps({f"z{i}": i for i in range(25_000)})

    resp = post_capture(client, har_bytes(entry(HISTORY, {}, body)))

    assert {"where": "body", "name": "(body)", "reason": "the browser's body holds more than 20,000 values"} \
        in only_call(resp.get_json())["not_compared"]
    assert len(resp.data) < 100_000


def test_past_200_differences_the_rest_are_counted_not_listed(client):
    body = json.dumps({"history_ids": ["1"], **{f"z{i}": i for i in range(500)}})

    call = only_call(post_capture(client, har_bytes(entry(HISTORY, {}, body))).get_json())

    assert len(call["differences"]) == 200
    (left_out,) = call["not_compared"]
    assert left_out["where"] == "call" and left_out["name"] == "(differences)"
    assert left_out["reason"].endswith("more differences past the first 200 are not listed, nor settings named "
                                       "from them")
    assert int(left_out["reason"].split()[0].replace(",", "")) >= 300


def test_the_bodies_compared_in_one_capture_stop_at_4_mb(client):
    pad = json.dumps({"pad": "x" * 900_000})
    paths = ["/mweb/v1/get_history_by_ids", "/mweb/v1/get_history", "/mweb/v1/get_upload_token",
             "/mweb/v1/get_local_item_list", "/commerce/v1/benefits/user_credit"]

    report = post_capture(client, har_bytes(*[entry(f"{API}{p}?aid=513695", {}, pad) for p in paths])).get_json()

    left_out = [c["call"] for c in report["comparison"] for n in c["not_compared"]
                if n["reason"].startswith("the capture's bodies compared before it reach")]
    assert left_out == ["credits"]
    assert "not compared" in report["summary"]


def test_a_call_with_more_query_parameters_than_a_browser_sends_is_not_compared_there(client):
    url = HISTORY + "&" + "&".join(f"p{i}=1" for i in range(1500))

    call = only_call(post_capture(client, har_bytes(entry(url, {}, '{"history_ids":["1"]}'))).get_json())

    assert {"where": "query", "name": "(query)", "reason": "the browser's call has more than 1,000 query parameters"} \
        in call["not_compared"]
    assert not [d for d in call["differences"] if d["where"] == "query"]


def test_a_value_too_long_for_a_setting_is_shown_cut_and_not_proposed(client):
    captured = browser_entry(lambda c: c.history_list(TOKEN, count=20))
    text = json.loads(captured["request"]["postData"]["text"])
    captured["request"]["postData"]["text"] = json.dumps({**text, "fav_option": {"note": "y" * 5000}})

    (difference,) = only_call(post_capture(client, har_bytes(captured)).get_json())["differences"]

    assert difference["name"] == "fav_option" and difference["setting"] is None
    assert len(difference["theirs"]) == 201 and "is not proposed" in difference["note"]


# -- no 500: what cannot be read is said ----------------------------------------------------------

def generate_body(**draft_changes) -> str:
    body = video_body()
    draft = json.loads(body["draft_content"])
    inputs = draft["component_list"][0]["abilities"]["gen_video"]["text_to_video_params"]["video_gen_inputs"][0]
    inputs.update(draft_changes)
    return json.dumps({**body, "draft_content": json.dumps(draft)})


@pytest.mark.parametrize("url, body, words", [
    (HISTORY, "[" * 100_000, "the browser's body is nested deeper than 64 levels"),
    (HISTORY, '{"a":' * 50_000 + "1" + "}" * 50_000, "the browser's body is nested deeper than 64 levels"),
    (HISTORY, json.dumps({"history_ids": ["1"], "deep": nested(80)}), "the browser's body is nested deeper than 64"),
    (HISTORY, json.dumps({"history_ids": ["1"], "scene_options": json.dumps(nested(80))}), "nested deeper than 64"),
    (HISTORY, json.dumps({"history_ids": ["1"], "scene_options": "[" * 100_000}), "nested deeper than 64"),
])
def test_a_body_nested_too_deep_is_a_part_not_compared_never_a_500(client, url, body, words):
    resp = post_capture(client, har_bytes(entry(url, {}, body)))

    assert resp.status_code == 200
    assert [n for n in only_call(resp.get_json())["not_compared"] if words in n["reason"]]


@pytest.mark.parametrize("body, words", [
    (json.dumps({"draft_content": "[" * 100_000}), "draft_content is nested too deep to read"),
    ("[" * 100_000, "the browser's body is nested deeper than 64 levels"),
    (generate_body(duration_ms=10 ** 400), "OverflowError"),
])
def test_a_generate_that_cannot_be_read_back_is_not_built_with_the_reason(client, body, words):
    resp = post_capture(client, har_bytes(entry(GENERATE, {}, body)))

    assert resp.status_code == 200
    call = only_call(resp.get_json())
    assert call["status"] == "not_built" and words in call["reason"]


# -- secrets: from wherever the capture carries cookies, in whatever form they come back ------------

SESSION = "op-Sess1on/5f3a9c0d1e+Zq"          # not hex-shaped: found because it is a cookie
LONG_COOKIE = "odin-tt-7b41c2e9aa0f5d3e1c"


def forms(value: str) -> list[str]:
    """The forms the tests plant and look for: as is, upper case, URL-encoded, hex, base64."""
    return [value, value.upper(), quote(value, safe=""), value.encode().hex(),
            base64.b64encode(f"xy{value}".encode()).decode()[4:-4]]


CARRIERS = {
    "a quoted cookie value": dict(headers=[("cookie", f'sessionid="{SESSION}"; odin_tt={LONG_COOKIE}')]),
    "a second Cookie header": dict(headers=[("cookie", "lang=zh"), ("cookie", f"sessionid={SESSION}"),
                                            ("cookie", f"odin_tt={LONG_COOKIE}")]),
    "the cookies list of Chrome's sanitized export": dict(cookies=[{"name": "sessionid", "value": SESSION},
                                                                  {"name": "odin_tt", "value": LONG_COOKIE}]),
    "a sid_guard, URL-encoded": dict(headers=[("cookie", f"sid_guard={quote(SESSION, safe='')}%7C1790000000%7C5184000"
                                                         f"; odin_tt={LONG_COOKIE}")]),
    "a response's Set-Cookie": dict(response_headers=[("set-cookie", f"sessionid={SESSION}; Path=/; HttpOnly\n"
                                                                     f"odin_tt={LONG_COOKIE}; Path=/")]),
    "a response's cookies list": dict(response_cookies=[{"name": "sessionid", "value": SESSION},
                                                        {"name": "odin_tt", "value": LONG_COOKIE}]),
}


def carrying(how: dict) -> dict:
    """A call the capture makes that carries the cookies (its request, or its response)."""
    return entry(f"{API}/passport/web/account/info/?aid=513695", how.get("headers", []), None, method="GET",
                 cookies=how.get("cookies"), response_headers=how.get("response_headers", ()),
                 response_cookies=how.get("response_cookies"))


def leaking(secret: str) -> dict:
    """Our calls, with the secret where the browser put something of its own: under names that say
    nothing of a session (query, header, body), and encoded in a body."""
    history = browser_entry(lambda c: c.history_list(TOKEN, count=20), da_version="3.3.31",
                            extra_headers={"x-ref": secret, "x-echo": secret.upper()})
    history["request"]["url"] += f"&ref={quote(secret, safe='')}"
    history["request"]["headers"] = [h for h in history["request"]["headers"] if h["name"] != "cookie"]
    text = json.loads(history["request"]["postData"]["text"])
    history["request"]["postData"]["text"] = json.dumps({
        **text, "extra": secret, "blob": base64.b64encode(f"xy{secret}".encode()).decode(),
        "hexed": secret.encode().hex(), "quoted": quote(secret, safe="")})
    return history


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_a_cookie_of_the_capture_shows_nowhere_and_is_never_proposed(client, caplog, carrier):
    caplog.set_level(logging.DEBUG)
    capture = har_bytes(carrying(CARRIERS[carrier]), leaking(SESSION), leaking(LONG_COOKIE))

    resp = post_capture(client, capture)

    assert resp.status_code == 200
    answer = resp.get_data(as_text=True)
    for secret in (SESSION, LONG_COOKIE):
        for form in forms(secret):
            assert form.lower() not in answer.lower(), form
            assert form.lower() not in caplog.text.lower(), form
    report = resp.get_json()
    assert report["settings"] == ["JIMENG_DA_VERSION=3.3.31"]
    history = next(c for c in report["comparison"] if c["call"] == "history_list")
    planted = {d["name"]: d for d in history["differences"]
               if d["name"] in ("X-Ref", "X-Echo", "ref", "extra", "blob", "hexed", "quoted")}
    assert set(planted) == {"X-Ref", "X-Echo", "ref", "extra", "blob", "hexed", "quoted"}
    assert all(d["theirs"] == "(present)" and d["setting"] is None for d in planted.values()), planted


@pytest.mark.parametrize("carrier", ["cookies", "headers", "response_cookies"])
def test_a_capture_carrying_more_cookie_values_than_a_browser_does_is_refused_naming_the_bound(client, carrier):
    """Each cookie value is masked in every log line and text of the report: their number is bounded."""
    values = [f"cookie-value-{i:06d}" for i in range(1001)]
    how = {"cookies": dict(cookies=[{"name": f"c{i}", "value": v} for i, v in enumerate(values)]),
           "headers": dict(headers=[("cookie", "; ".join(f"c{i}={v}" for i, v in enumerate(values)))]),
           "response_cookies": dict(response_cookies=[{"name": f"c{i}", "value": v} for i, v in enumerate(values)])}

    resp = post_capture(client, har_bytes(carrying(how[carrier]), leaking(values[0])))

    assert resp.status_code == 400
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_capture" and "more than 1,000 distinct cookie values" in error["message"]
    assert values[0] not in resp.get_data(as_text=True)


def test_short_cookie_values_are_not_counted_against_the_bound(client):
    short = [{"name": f"c{i}", "value": f"v{i}"} for i in range(2000)]

    resp = post_capture(client, har_bytes(carrying(dict(cookies=short)), leaking(SESSION)))

    assert resp.status_code == 200


def test_a_value_shaped_like_a_session_id_is_never_shown_nor_proposed(client):
    shaped = secrets.token_hex(16)
    history = browser_entry(lambda c: c.history_list(TOKEN, count=20), extra_headers={"x-passport": shaped,
                                                                                     "x-ref": shaped.upper()})
    history["request"]["url"] += f"&ref={shaped}"

    resp = post_capture(client, har_bytes(history, entry(f"{API}/mweb/v1/{shaped}/feed", {}, "{}")))

    assert shaped not in resp.get_data(as_text=True).lower()
    report = resp.get_json()
    assert report["settings"] == [] and report["calls_we_never_make"] == [{"path": "/mweb/v1/[redacted]/feed",
                                                                           "seen": 1}]
    assert all(d["setting"] is None for c in report["comparison"] for d in c["differences"])


def test_the_capture_route_rests_a_moment_once_per_slice_of_work():
    now, rests = [0.0], []
    pace = Pacer(clock=lambda: now[0], sleep=rests.append)

    for _ in range(10):
        now[0] += 0.002
        pace()

    assert rests == [Pacer.REST_S] * 3      # at 6, 12 and 18 ms: once past every 5 ms slice
