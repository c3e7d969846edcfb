"""The history list (`/mweb/v1/get_history`, update section 6) and the lost-answer fault."""
from tests.sandbox.wire import image_body, video_body

LIST = "/mweb/v1/get_history"
GENERATE = "/mweb/v1/aigc_draft/generate"


def page(jimeng, count, offset=0, types=(10,), **kwargs) -> dict:
    return jimeng.data(LIST, {"count": count, "offset": offset, "history_type_list": list(types),
                              "mode": "workbench", "history_option": {"workspace_id": 0}}, **kwargs)


def test_the_list_pages_newest_first_with_has_more_and_next_offset(jimeng):
    ids = [jimeng.submit(video_body(f"v{i}"))["data"]["aigc_data"]["history_record_id"] for i in range(3)]
    jimeng.submit(image_body())
    jimeng.submit(video_body("bob's"), session="sess-bob")
    first = page(jimeng, 2)
    assert [r["history_record_id"] for r in first["records_list"]] == ids[:0:-1]
    assert first["has_more"] is True and first["next_offset"] > 0
    second = page(jimeng, 2, first["next_offset"])
    assert [r["history_record_id"] for r in second["records_list"]] == ids[:1]
    assert second["has_more"] is False


def test_the_list_is_strict_about_its_body(jimeng):
    for body in ({"count": 0, "history_type_list": [10], "mode": "workbench"},
                 {"count": 5, "history_type_list": [], "mode": "workbench"},
                 {"count": 5, "history_type_list": [10], "mode": "workbench", "offset": -1},
                 {"count": 5, "history_type_list": [10]}):
        assert jimeng.call(LIST, body)["ret"] == "1000"


def test_an_after_fault_creates_the_task_and_loses_the_answer(client, jimeng):
    client.post("/_sandbox/faults", json={"path": GENERATE, "status": 502, "after": True})
    headers, query, cookies = jimeng.request_parts(GENERATE, "sess-alice", "cn")
    headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    resp = client.post(GENERATE, query_string=query, headers=headers, json=video_body())
    assert resp.status_code == 502
    assert len(client.get("/_sandbox/records").get_json()["records"]) == 1
