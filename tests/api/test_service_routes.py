"""Models, health, docs, routing errors and logging: what operators and integrators rely on."""
import logging

import responses

from app.jimeng.models import VIDEO_MODELS
from tests.api.helpers import auth
from tests.jimeng_fakes import GENERATE_URL, envelope


def test_models_lists_video_and_image_models_with_limits(client):
    body = client.get("/v1/models").get_json()
    assert body["object"] == "list"
    by_id = {m["id"]: m for m in body["data"]}
    assert set(VIDEO_MODELS) <= set(by_id) and "jimeng-4.5" in by_id
    seedance = by_id["jimeng-video-seedance-2.0"]
    assert seedance["durations"] == list(range(4, 16)) and seedance["regions"] == ["cn"]
    assert seedance["limits"]["omni_reference"]["min_materials"] == 1
    assert by_id["jimeng-video-3.0"]["modes"]["us"] == ["first_last_frames"]
    assert "cn" in by_id["jimeng-video-3.5-pro"]["default_for_regions"]
    assert all(by_id[name]["frame_rates"] == [24] for name in VIDEO_MODELS)      # Jimeng's drafts carry 24


def test_ping_and_healthz(client):
    assert client.get("/ping").data == b"pong"
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_healthz_reports_a_bad_config(app, client):
    app.extensions["app_config"].SECRET_KEY = "short"
    resp = client.get("/healthz")
    assert resp.status_code == 503 and "SECRET_KEY" in resp.get_json()["problems"][0]


def test_model_aliases_may_name_image_models_and_unknown_ones_are_a_bad_config(app, client):
    app.extensions["app_config"].OPENAI_MODEL_ALIASES = {"gpt-image-1": "jimeng-4.0", "sora-2": "default"}
    assert client.get("/healthz").status_code == 200
    app.extensions["app_config"].OPENAI_MODEL_ALIASES = {"gpt-image-1": "no-such-model"}
    resp = client.get("/healthz")
    assert resp.status_code == 503 and "no-such-model" in resp.get_json()["problems"][0]


def test_openapi_spec_is_generated_from_the_schemas(client):
    spec = client.get("/openapi.json").get_json()
    assert "/v1/videos/generations" in spec["paths"] and "/v1/videos/tasks/batch" in spec["paths"]
    submit = spec["components"]["schemas"]["VideoSubmit"]["properties"]
    assert "function_mode" in submit and "image_file_9" in submit and "ratio" in submit
    assert "16:9" in submit["ratio"]["enum"]


def test_docs_page_loads_its_assets_locally(client):
    page = client.get("/docs").get_data(as_text=True)
    assert "/docs/static/" in page and "cdn" not in page.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200


def test_unknown_route_and_method_answer_json(client):
    r404, r405 = client.get("/nope"), client.put("/v1/videos/generations")
    assert (r404.status_code, r404.get_json()["error"]["code"]) == (404, "not_found")
    assert (r405.status_code, r405.get_json()["error"]["code"]) == (405, "method_not_allowed")


def test_every_answer_carries_a_request_id(client):
    resp = client.get("/ping", headers={"X-Request-Id": "abc123"})
    assert resp.headers["X-Request-Id"] == "abc123"


@responses.activate
def test_session_ids_never_reach_the_logs(client, caplog):
    responses.post(GENERATE_URL, json=envelope(None, ret="1015", errmsg="invalid sessionid=topsecret"))
    with caplog.at_level(logging.DEBUG):
        resp = client.post("/v1/videos/generations", json={"prompt": "x"}, headers=auth("topsecret"))
        logging.getLogger("probe").info("header was Bearer topsecret and cookie sessionid=topsecret")
    assert resp.status_code == 401 and "topsecret" not in resp.get_data(as_text=True)
    from app.serving.logs import ContextFilter
    for record in caplog.records:
        ContextFilter().filter(record)
        assert "topsecret" not in record.getMessage()


def test_an_unexpected_error_is_a_json_500_without_trace(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = client.get("/boom")
    assert resp.status_code == 500 and "secret internals" not in resp.get_data(as_text=True)
    assert resp.get_json()["error"]["code"] == "internal_error"


def test_the_request_id_does_not_outlive_its_request(client):
    from app.serving.logs import request_id
    client.get("/ping", headers={"X-Request-Id": "first"})
    assert request_id.get() == "-"


def test_double_slashes_are_a_json_404_not_an_html_redirect(client):
    resp = client.post("/v1/videos//generations", json={"prompt": "x"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_405_names_the_allowed_methods(client):
    resp = client.put("/v1/videos/generations")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]


def test_another_auth_scheme_is_missing_token(client):
    resp = client.get("/v1/videos/tasks/x", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "missing_token"


def test_a_malformed_proxy_in_a_token_is_a_400_not_a_503(client):
    resp = client.post("/v1/videos/generations", json={"prompt": "x"},
                       headers={"Authorization": "Bearer http://127.0.0.1:99999@sess"})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "Authorization"


def test_token_check_blames_the_body_field(client):
    resp = client.post("/token/check", json={"token": "a b"})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "token"


def test_lone_surrogates_are_refused_before_reaching_jimeng(client):
    resp = client.post("/v1/videos/generations", data='{"prompt": "a\\ud800"}', content_type="application/json",
                       headers={"Authorization": "Bearer s"})
    assert resp.status_code == 400 and "Unicode" in resp.get_json()["error"]["message"]


def test_a_null_body_says_an_object_is_needed(client):
    resp = client.post("/v1/videos/tasks/batch", data="null", content_type="application/json",
                       headers={"Authorization": "Bearer s"})
    assert resp.status_code == 400 and "object" in resp.get_json()["error"]["message"]


def test_schema_level_problems_point_at_the_item(client):
    resp = client.post("/v1/videos/generations", json={"function_mode": "multi_frame", "frames": [1, 2]},
                       headers={"Authorization": "Bearer s"})
    assert resp.get_json()["error"]["param"] == "frames[0]"


def test_the_spec_documents_the_error_shape_we_answer(client):
    spec = client.get("/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["$ref"].endswith("/ErrorBody")
    assert {"code", "message", "param"} <= set(spec["components"]["schemas"]["ErrorBody"]["properties"])
