"""The tester's control panel: queued faults, the call log, records by fingerprint, reset."""
from sandbox import checks

from tests.sandbox.wire import video_body

HISTORY = "/mweb/v1/get_history_by_ids"


def test_fault_answers_its_status_then_recovers(jimeng, client):
    client.post("/_sandbox/faults", json={"path": HISTORY, "status": 503, "count": 2})
    statuses = [client.post(HISTORY).status_code for _ in range(2)]
    assert statuses == [503, 503]
    assert jimeng.call(HISTORY, {"history_ids": ["1"]})["ret"] == "0"


def test_fault_with_a_ret_answers_a_jimeng_error_envelope(jimeng, client):
    client.post("/_sandbox/faults", json={"path": HISTORY, "ret": "1014", "errmsg": "system busy"})
    answer = jimeng.call(HISTORY, {"history_ids": ["1"]})
    assert (answer["ret"], answer["errmsg"]) == ("1014", "system busy")
    assert jimeng.call(HISTORY, {"history_ids": ["1"]})["ret"] == "0"


def test_fault_by_action_hits_only_that_upload_call(jimeng, client):
    client.post("/_sandbox/faults", json={"path": "/?Action=CommitImageUpload", "status": 500})
    token = jimeng.upload_token(2)
    apply = jimeng.signed("GET", {"Action": "ApplyImageUpload", "Version": "2018-08-01", "FileSize": "1",
                                  "ServiceId": token["service_id"]}, token, "imagex")
    commit = jimeng.signed("POST", {"Action": "CommitImageUpload", "Version": "2018-08-01",
                                    "ServiceId": token["service_id"]}, token, "imagex", body=b"{}")
    assert (apply.status_code, commit.status_code) == (200, 500)


def test_malformed_fault_is_refused(client):
    assert client.post("/_sandbox/faults", json={"path": HISTORY}).status_code == 400
    assert client.post("/_sandbox/faults", json={"path": HISTORY, "status": 503, "bogus": 1}).status_code == 400


def test_call_log_counts_calls_per_path_and_session(jimeng, client):
    for _ in range(3):
        jimeng.call(HISTORY, {"history_ids": ["1"]}, session="sess-alice")
    jimeng.call(HISTORY, {"history_ids": ["1"]}, session="sess-bob")
    log = client.get("/_sandbox/calls").get_json()
    assert log["counts"][HISTORY] == 4
    alice = [c for c in log["calls"] if c["session"] == checks.fingerprint("sess-alice")]
    assert len(alice) == 3
    client.delete("/_sandbox/calls")
    assert client.get("/_sandbox/calls").get_json()["total"] == 0


def test_records_show_a_fingerprint_never_the_session_id(jimeng, client):
    jimeng.submit(video_body(), session="sess-secret-alice")
    listing = client.get("/_sandbox/records").get_data(as_text=True)
    assert "sess-secret-alice" not in listing
    assert checks.fingerprint("sess-secret-alice") in listing


def test_reset_forgets_records_and_faults(jimeng, client):
    history_id = jimeng.submit(video_body())["data"]["aigc_data"]["history_record_id"]
    client.post("/_sandbox/faults", json={"path": HISTORY, "status": 503})
    client.post("/_sandbox/reset")
    assert client.get("/_sandbox/records").get_json()["records"] == []
    assert jimeng.history(history_ids=[history_id]) == {}


def test_advance_ages_records_without_moving_the_request_clock(jimeng, client):
    history_id = jimeng.submit(video_body())["data"]["aigc_data"]["history_record_id"]
    client.post("/_sandbox/advance", json={"seconds": 6})
    assert jimeng.history(history_ids=[history_id])[history_id]["status"] == 50


def test_assets_are_served_for_use_as_input_media(client):
    assert client.get("/assets/sample.mp4").data[4:8] == b"ftyp"
    assert client.get("/assets/sample.png").data.startswith(b"\x89PNG")
