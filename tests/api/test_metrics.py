"""GET /metrics: what an operator's Prometheus scrapes (one process here; tests/e2e covers 2 workers)."""
from __future__ import annotations

import responses
from prometheus_client.parser import text_string_to_metric_families

from app.factory import create_app
from tests.api.helpers import auth, task_id_for
from tests.jimeng_fakes import GENERATE_URL, HISTORY_URL, envelope, generate_answer, queued_record

RID = "4722540945676"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent: counters start at nothing)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def scrape(client, **headers) -> str:
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain")
    return resp.get_data(as_text=True)


@responses.activate
def test_a_status_query_counts_its_route_rule_upstream_call_and_state(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, json=envelope({RID: queued_record(RID, position=3, length=9)}))
    rule = "/v1/videos/tasks/<task_id>"
    before = scrape(client)
    assert client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).status_code == 200
    after = scrape(client)

    def grew(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("jimeng_api_requests_total", method="GET", route=rule, status="200") == 1
    assert grew("jimeng_api_request_duration_seconds_count", method="GET", route=rule) == 1
    assert grew("jimeng_api_upstream_calls_total", endpoint="/mweb/v1/get_history_by_ids", outcome="ok") == 1
    assert grew("jimeng_api_upstream_duration_seconds_count", endpoint="/mweb/v1/get_history_by_ids") == 1
    assert grew("jimeng_api_task_states_total", kind="video", status="pending") == 1
    assert tid not in after  # the raw path never becomes a label


@responses.activate
def test_upstream_failures_are_counted_by_outcome(app, client, clock):
    tid = task_id_for(app, "sess", RID, submitted_at=clock.now)
    responses.post(HISTORY_URL, status=503)
    before = scrape(client)
    assert client.get(f"/v1/videos/tasks/{tid}", headers=auth("sess")).status_code == 503
    after = scrape(client)
    labels = {"endpoint": "/mweb/v1/get_history_by_ids", "outcome": "unavailable"}
    assert sample(after, "jimeng_api_upstream_calls_total", **labels) > sample(
        before, "jimeng_api_upstream_calls_total", **labels)
    assert sample(after, "jimeng_api_requests_total", route="/v1/videos/tasks/<task_id>", status="503") >= 1


@responses.activate
def test_an_accepted_submit_counts_its_model_and_mode(client):
    responses.post(GENERATE_URL, json=generate_answer())
    labels = {"kind": "video", "model": "jimeng-video-3.5-pro", "mode": "first_last_frames"}
    before = scrape(client)
    assert client.post("/v1/videos/generations", json={"prompt": "a cat surfing"},
                       headers=auth("sess")).status_code == 200
    after = scrape(client)
    assert sample(after, "jimeng_api_submits_total", **labels) - sample(before, "jimeng_api_submits_total",
                                                                        **labels) == 1
    assert sample(after, "jimeng_api_upstream_calls_total", endpoint="/mweb/v1/aigc_draft/generate",
                  outcome="ok") >= 1


def test_unknown_paths_and_odd_methods_share_one_label(client):
    before = scrape(client)
    for i in range(3):
        assert client.get(f"/no/such/path/{i}").status_code == 404
    assert client.open("/ping", method="BREW").status_code == 405
    after = scrape(client)
    assert sample(after, "jimeng_api_requests_total", method="GET", route="unmatched", status="404") - sample(
        before, "jimeng_api_requests_total", method="GET", route="unmatched", status="404") == 3
    assert "/no/such/path" not in after and "BREW" not in after


def test_metrics_token_guards_the_page_with_our_error_shape():
    guarded = create_app({"METRICS_TOKEN": "scrape-secret-123"}).test_client()
    refused = guarded.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "missing_token"
    assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert "jimeng_api_requests_total" in scrape(guarded, Authorization="Bearer scrape-secret-123")
