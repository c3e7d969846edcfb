"""Fuzzing from /openapi.json, in `make test`, against the service in front of the sandbox (issues 8, 21).

Three passes, every answer counted (pytest's summary prints the counts):
- schemathesis, positive: data the spec calls valid. No answer >= 500, and it is accepted for every
  operation whose rules the spec can state (submits are left out of that check: whether a model
  offers a mode, a duration or a size, and how many media a mode takes, are rules across fields the
  schema does not express; so is the list route, whose `after` is a signed cursor).
- schemathesis, negative: data the spec calls invalid (wrong types, missing or extra fields, bad
  parameters). No answer >= 500.
- a sweep of wrong types, from the spec: every property of every request body (JSON and multipart)
  gets values of every other type (list, object, null where not nullable, boolean, a fraction...).
  Each must be a 400 naming that field: a wrong type is never a 500 and never replaced by a default.
- hostile captures: HAR files whose requests (to the paths our client calls) carry any JSON where a
  browser puts its method, headers, cookies and body, and real generate drafts with one field made
  hostile (huge numbers, deep nesting, wrong types). No answer >= 500, and no capture's session id
  in any answer.

The sandbox behind the service works, so Jimeng's 502-504 have no cause here: any answer >= 500 is
ours, with no exception.
"""
from __future__ import annotations

import base64
import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode

from app.factory import create_app
from app.jimeng.calls import CALL_PATHS
from sandbox.stack import ROOT
from tests.faults.conftest import FUZZ_SEEN as SEEN

POSITIVE_EXAMPLES = 50
NEGATIVE_EXAMPLES = 40
TOKEN = "fuzz-session-5c1d0e7a9b"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}

_SPEC_APP = create_app({})
SPEC = _SPEC_APP.test_client().get("/openapi.json").get_json()
OPERATIONS = [op.ok() for op in schemathesis.openapi.from_dict(SPEC).get_all_operations()]
LABELS = [op.label for op in OPERATIONS]
# Operations with something to make invalid (schemathesis finds no negative case for /ping).
MUTABLE = [op.label for op in OPERATIONS if op.body or any(True for _ in op.iter_parameters())]
CROSS_FIELD_RULES = {"POST /v1/videos/generations", "POST /v1/videos", "POST /v1/images/generations",
                     "POST /v1/images/compositions", "POST /v1/images/edits"}
OPAQUE_CURSOR = {"GET /v1/videos"}      # `after` is a signed cursor from an earlier page: no pattern fits it
# A capture's file must hold a HAR: any bytes fit a schema's "binary".
OPAQUE_CONTENT = {"POST /v1/doctor/capture"}
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(scope="module")
def service(upstream, tmp_path_factory):
    # Configured as a service that takes webhooks: generated webhook_url values meet their checks.
    app = create_app({"JIMENG_UPSTREAM_URL": upstream.url, "JIMENG_TIMEOUT": 2.0, "FETCH_TIMEOUT": 2.0,
                      "WAIT_TIMEOUT": 2, "IMAGE_WAIT_TIMEOUT": 2, "WAIT_POLL_SECONDS": 0.2,
                      "ALLOW_LOOPBACK_MEDIA": True, "WEBHOOK_SECRET": WEBHOOK_SECRET,
                      "DATA_DIR": str(tmp_path_factory.mktemp("fuzz-data"))})
    app.extensions["jimeng_client"].sleep = lambda s: None
    return app


@pytest.fixture(scope="module")
def api_schema(service):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", service)
    return {op.ok().label: op.ok() for op in schema.get_all_operations()}


def counted(mode: str, status: int) -> bool:
    """Count an answer; True when it is a server error."""
    SEEN["cases"] += 1
    SEEN["by_mode"][mode] = SEEN["by_mode"].get(mode, 0) + 1
    SEEN["by_status"][status] = SEEN["by_status"].get(status, 0) + 1
    if status < 500:
        return False
    SEEN["server_errors"] += 1
    return True


def run_schemathesis(operation, mode: GenerationMode, examples: int, checks: list) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call(headers=HEADERS)
        server_error = counted(mode.value, response.status_code)
        assert not server_error, f"{response.status_code}: {response.text[:300]}"
        if checks:
            case.validate_response(response, checks=checks)

    run()


@pytest.mark.parametrize("label", LABELS)
def test_valid_requests_get_no_server_error_and_are_accepted(api_schema, label):
    checks = [] if label in CROSS_FIELD_RULES | OPAQUE_CURSOR | OPAQUE_CONTENT else [positive_data_acceptance]
    run_schemathesis(api_schema[label], GenerationMode.POSITIVE, POSITIVE_EXAMPLES, checks)


@pytest.mark.parametrize("label", MUTABLE)
def test_invalid_requests_get_no_server_error(api_schema, label):
    run_schemathesis(api_schema[label], GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, [])


# -- the sweep of wrong types ---------------------------------------------------------------------

PNG_URI = "data:image/png;base64," + base64.b64encode((ROOT / "sandbox" / "assets" / "sample.png").read_bytes()).decode()
DEEP = "[" * 100_000
BASE_BODIES = {"/v1/videos/tasks/batch": {"task_ids": ["no-such-task"]},
               "/v1/images/tasks/batch": {"task_ids": ["no-such-task"]},
               "/token/check": {"token": "fuzz-token-0123456789"},
               "/v1/images/compositions": {"prompt": "a fuzzed fox", "images": [PNG_URI]},
               "/v1/images/edits": {"prompt": "a fuzzed fox", "images": [PNG_URI]}}
# Every field of /v1/videos/generations passes through /v1/videos too (its spec says so): sweep them there.
ALSO_ACCEPTED = {"/v1/videos": "VideoSubmit"}
# JSON values of another type than the property declares (null only where it is not nullable).
WRONG_JSON = {
    "string": [0, 2.5, True, [], ["x"], {}, {"a": 1}, [None, None]],
    "integer": [2.9, "2.9", True, [], [1], {}, "x", [None, None]],
    "number": [True, "x", [], [0.5], {}],
    "boolean": ["maybe", 2, [], {}, [True]],
    "array": [5, True, {}, {"a": 1}, [[["x"]]], [None], [5]],
    "object": [5, "x", [], True],
}
# The same in multipart, where every value is text.
WRONG_TEXT = {"integer": ["2.9", "x", "[]", "{}", "true"], "number": ["x", "[]", "{}"],
              "boolean": ["maybe", "[]", "2"], "array": [DEEP, "[{}]", "[null]", "[[1]]", "[5]"]}


def _schema(ref_or_schema: dict) -> dict:
    if "$ref" in ref_or_schema:
        return SPEC["components"]["schemas"][ref_or_schema["$ref"].rsplit("/", 1)[1]]
    return ref_or_schema


def _declared_type(prop: dict) -> str | None:
    if "oneOf" in prop:
        return "oneOf"
    return prop.get("type")


def _sweep_cases() -> list[tuple[str, str, str, dict]]:
    """(path, media type, property, its schema) for every body property of every operation."""
    cases = []
    for path, ops in SPEC["paths"].items():
        body = (ops.get("post") or {}).get("requestBody")
        if not body:
            continue
        for media, content in body["content"].items():
            schema = _schema(content["schema"])
            props = dict(schema.get("properties", {}))
            if media == "application/json" and path in ALSO_ACCEPTED:
                extra = SPEC["components"]["schemas"][ALSO_ACCEPTED[path]]["properties"]
                props = {**extra, **props}
            for name, prop in props.items():
                prop = _schema(prop)
                if prop.get("format") == "binary" or _declared_type(prop) is None:
                    continue          # a file, or a field of any shape (read by its own rules)
                if media.startswith("multipart/"):
                    json_twin = _schema(SPEC["paths"][path]["post"]["requestBody"]["content"]
                                        ["application/json"]["schema"]).get("properties", {}).get(name)
                    kind = _declared_type(_schema(json_twin)) if json_twin else _declared_type(prop)
                    if kind not in WRONG_TEXT:
                        continue      # any text is a string
                cases.append((path, media, name, prop))
    return cases


SWEEP = _sweep_cases()


def _wrong_values(media: str, prop: dict, name: str, path: str) -> list:
    if media.startswith("multipart/"):
        json_twin = _schema(SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"])
        twin = json_twin.get("properties", {}).get(name) or prop
        return WRONG_TEXT[_declared_type(_schema(twin))]
    kind = _declared_type(prop)
    if kind == "oneOf":
        values = [5, True, [], {"image_url": 5}, {"image_url": ["x"]}]
    else:
        values = list(WRONG_JSON[kind])
    if not prop.get("nullable"):
        values.append(None)
    return values


@pytest.mark.parametrize("path, media, name, prop", SWEEP, ids=[f"{m.split(';')[0]} {p} {n}" for p, m, n, _ in SWEEP])
def test_a_wrong_type_in_any_body_field_is_a_400_naming_it(service, path, media, name, prop):
    client = service.test_client()
    problems = []
    for value in _wrong_values(media, prop, name, path):
        base = dict(BASE_BODIES.get(path, {"prompt": "a fuzzed cat"}))
        if media.startswith("multipart/"):
            base = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in base.items()}
            base.pop(name, None)
            resp = client.post(path, data={**base, name: value}, content_type="multipart/form-data", headers=HEADERS)
        else:
            resp = client.post(path, json={**base, name: value}, headers=HEADERS)
        label = f"POST {path}"
        if counted("types", resp.status_code):
            problems.append(f"{json.dumps(value)[:40]}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
            continue
        error = (resp.get_json(silent=True) or {}).get("error") or {}
        if resp.status_code != 400 or not str(error.get("param") or "").startswith(name):
            problems.append(f"{json.dumps(value)[:40]}: {resp.status_code} param={error.get('param')!r} "
                            f"{resp.get_data(as_text=True)[:160]}")
    assert not problems, "\n".join(problems)


# -- hostile captures -----------------------------------------------------------------------------

CAPTURE_EXAMPLES = 60
CAPTURE_SESSION = "fuzz-capture-session-7e2d"
HOSTILE_LEAVES = (st.none() | st.booleans() | st.integers(min_value=-10 ** 400, max_value=10 ** 400)
                  | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
                  | st.sampled_from(["[" * 5_000, '{"a":' * 3_000, "{", "[1,", CAPTURE_SESSION, "\ud800"]))
HOSTILE = st.recursive(HOSTILE_LEAVES, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=24)


def _draft_paths(value, path=()):
    """Every path into a real generate body, draft_content's inside included."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _draft_paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _draft_paths(child, (*path, i))
    yield path


def _generate_body() -> dict:
    from app.jimeng import payloads
    from app.jimeng.assets import UploadedImage, VideoDraft
    from app.jimeng.models import VIDEO_MODELS
    draft = VideoDraft(model=VIDEO_MODELS["jimeng-video-seedance-2.0"], mode="first_last_frames", prompt="a cat",
                       ratio="16:9", duration_s=5, images=(UploadedImage("tos-cn-i-x/abc", 640, 480, "png"),))
    body = payloads.build_video_generate_body(draft, submit_id="fuzz-submit")
    return {**body, "draft_content": json.loads(body["draft_content"])}


GENERATE = _generate_body()
GENERATE_PATHS = [p for p in _draft_paths(GENERATE) if p]


def _with(value, path, new):
    if not path:
        return new
    if isinstance(value, dict):
        return {**value, path[0]: _with(value[path[0]], path[1:], new)}
    return [_with(v, path[1:], new) if i == path[0] else v for i, v in enumerate(value)]


@st.composite
def hostile_requests(draw) -> dict:
    path = draw(st.sampled_from(sorted(CALL_PATHS.values())))
    if path == CALL_PATHS["generate"] and draw(st.booleans()):
        body = _with(GENERATE, draw(st.sampled_from(GENERATE_PATHS)), draw(HOSTILE))
        body = {**body, "draft_content": json.dumps(body["draft_content"])} if isinstance(body, dict) and \
            isinstance(body.get("draft_content"), (dict, list)) else body
        text = json.dumps(body)
    else:
        text = draw(st.one_of(HOSTILE.map(json.dumps), st.text(max_size=40)))
    request = {"method": draw(st.one_of(st.just("POST"), HOSTILE)),
               "url": f"https://jimeng.jianying.com{path}?aid=513695&" + draw(st.sampled_from(["", "ref=x", "a=1&a=2"])),
               "headers": draw(st.one_of(st.lists(st.fixed_dictionaries({"name": st.text(max_size=10),
                                                                        "value": HOSTILE}), max_size=4), HOSTILE)),
               "cookies": draw(st.one_of(st.just([{"name": "sessionid", "value": CAPTURE_SESSION}]), HOSTILE)),
               "postData": draw(st.one_of(st.just({"mimeType": "application/json", "text": text}), HOSTILE))}
    return {"request": request, "response": draw(st.one_of(st.just({"status": 200}), HOSTILE))}


def test_hostile_captures_get_no_server_error_and_show_no_session(service):
    client = service.test_client()

    @given(entries=st.lists(hostile_requests(), min_size=1, max_size=3))
    @settings(max_examples=CAPTURE_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(entries):
        capture = {"log": {"version": "1.2", "entries": entries}}
        resp = client.post("/v1/doctor/capture", data=json.dumps(capture), content_type="application/json",
                           headers=HEADERS)
        assert not counted("captures", resp.status_code), f"{resp.status_code}: {resp.get_data(as_text=True)[:300]}"
        assert CAPTURE_SESSION not in resp.get_data(as_text=True)

    run()
