"""Issue 21, section 2: a method a route does not have is 405 with `Allow`, on every route, and no
word of ours is ever taken for an id (`DELETE /v1/videos/generations` reached the delete view)."""
from __future__ import annotations

import re

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from app.factory import create_app
from app.api.path_ids import RESERVED
from tests.api.helpers import auth

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SAMPLE_ID = "AQBrFOrQAAAADTk4MDc5ODA3MDI1MTJl0tqVVlDvol4p6sQXhb20GVp9kXXqmJ8"
# One app for the whole module: none of these requests gets as far as Jimeng (http://jimeng.test).
_APP = create_app({"JIMENG_UPSTREAM_URL": "http://jimeng.test"})
CLIENT = _APP.test_client()
RULES = [r for r in _APP.url_map.iter_rules() if r.rule.startswith(("/v1/", "/token/", "/ping", "/healthz",
                                                                    "/metrics", "/openapi.json", "/docs"))]
BY_RULE = {r.rule: r for r in RULES}
VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def concrete(rule: str, **values: str) -> str:
    return VARIABLE.sub(lambda m: values.get(m.group(1), SAMPLE_ID), rule)


def segments(rule: str) -> list[str]:
    return rule.strip("/").split("/")


def test_every_static_word_of_our_routes_is_reserved():
    words = {s for r in RULES for s in segments(r.rule) if not VARIABLE.search(s) and "." not in s}
    words -= {"ping", "healthz", "metrics", "docs", "static"}     # top-level routes: no id sits beside them
    assert words <= RESERVED, f"add to app/api/path_ids.RESERVED: {sorted(words - RESERVED)}"


MISSING = [(r.rule, m) for r in RULES for m in METHODS if m not in r.methods and "path:" not in r.rule]


@pytest.mark.parametrize("rule, method", MISSING, ids=[f"{m} {r}" for r, m in MISSING])
def test_a_method_a_route_lacks_is_405_with_allow(rule, method):
    path = concrete(rule)
    allowed = set(_APP.url_map.bind("").allowed_methods(path))
    if method in allowed:
        return   # another route of the same path has it (GET and DELETE /v1/videos/<id>)

    resp = CLIENT.open(path, method=method, json={}, headers=auth("sess"))

    assert resp.status_code == 405, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["error"]["code"] == "method_not_allowed"
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= set(_APP.url_map.bind("").allowed_methods(path))
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= set(r for r in allowed if r != "HEAD")


WORD_CASES = [(r.rule, name, word, m) for r in RULES if "path:" not in r.rule for name in r.arguments
              for word in sorted(RESERVED) for m in sorted(r.methods - {"HEAD", "OPTIONS"})]


@pytest.mark.parametrize("rule, name, word, method", WORD_CASES,
                         ids=[f"{m} {r} {n}={w}" for r, n, w, m in WORD_CASES])
def test_no_reserved_word_is_taken_for_an_id(rule, name, word, method):
    path = concrete(rule, **{name: word})
    try:
        endpoint, _ = _APP.url_map.bind("").match(path, method=method)
    except (NotFound, MethodNotAllowed):
        endpoint = None
    assert endpoint != BY_RULE[rule].endpoint, f"{method} {path} reached the view of {rule}"
    if path in BY_RULE:
        return   # the word makes a route of its own (GET /v1/videos/tasks): its view answers

    resp = CLIENT.open(path, method=method, json={}, headers=auth("sess"))

    code = (resp.get_json() or {}).get("error", {}).get("code")
    assert resp.status_code in (404, 405) and code in ("not_found", "method_not_allowed"), \
        f"{method} {path}: {resp.status_code} {resp.get_data(as_text=True)[:200]}"


@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", "/v1/videos/generations", {"POST"}), ("GET", "/v1/videos/generations", {"POST"}),
    ("DELETE", "/v1/videos/tasks", {"GET"}), ("GET", "/v1/images/tasks/batch", {"POST"}),
    ("DELETE", "/v1/images/edits", {"POST"}), ("GET", "/token/check", {"POST"})])
def test_our_words_as_ids_answer_405_naming_the_methods_the_path_has(client, method, path, allow):
    resp = client.open(path, method=method, headers=auth("sess"))

    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"
    assert allow <= set(resp.headers["Allow"].replace(" ", "").split(","))
