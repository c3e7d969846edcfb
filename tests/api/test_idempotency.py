"""Idempotency-Key: stateless, from Jimeng's history; never a second generate for one key.

Every test runs on each shared-state backend (the host's SQLite store, the default; Redis), but those
that move the clock past a marker's time to live: Redis expires values on its own clock."""
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses

from app import errors

from tests.api.helpers import auth
from tests.conftest import made_app
from tests.api.test_images import PNG, PNG_URI, image_record
from tests.jimeng_fakes import ALGO_URL, GENERATE_URL, HISTORY_URL, envelope, generate_answer, register_image_flow

RID = "4722540945676"


@pytest.fixture
def app(clock, shared_state):
    """The app of conftest.py, its markers in each backend in turn."""
    return made_app(clock, shared_state=shared_state)


CLOCK_MOVES_PAST_THE_TTL = pytest.mark.parametrize("shared_state", ["sqlite"], indirect=True)


def generate_calls() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.startswith(GENERATE_URL)]


def lookups() -> list[dict]:
    return [json.loads(c.request.body) for c in responses.calls if c.request.url.startswith(HISTORY_URL)]


def listed_as_sent(sent: dict) -> dict:
    """The record Jimeng lists for a generate body: it stores submit_id, metrics and draft as sent."""
    record = generate_answer(RID)["data"]["aigc_data"]
    record.update(submit_id=sent["submit_id"], metrics_extra=sent["metrics_extra"], draft_content=sent["draft_content"],
                  created_time=1770000000.5)
    return record


def submit(client, body, key="order-42", token="s", route="/v1/videos/generations", **headers):
    return client.post(route, json=body, headers={**auth(token), "Idempotency-Key": key, **headers})


@responses.activate
def test_a_repeated_key_answers_the_first_task_without_a_second_generate(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    first = submit(client, {"prompt": "a cat"})
    assert first.status_code == 200, first.get_json()
    sent = generate_calls()[0]
    assert lookups()[0] == {"submit_ids": [sent["submit_id"]]}
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    again = submit(client, {"prompt": "a cat"})
    assert again.status_code == 200 and again.get_json()["task_id"] == first.get_json()["task_id"]
    assert len(generate_calls()) == 1


@responses.activate
def test_the_submit_id_is_derived_from_key_and_account_and_metrics_carry_the_body_tag(client):
    responses.post(HISTORY_URL, json=envelope({}))
    # The first attempt is refused (Jimeng's parallel limit: nothing created), so the key may be sent again.
    responses.post(GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    answers = [submit(client, {"prompt": "a cat"}, key=key, token=token).status_code
               for token, key in (("alice", "k1"), ("alice", "k1"), ("bob", "k1"), ("alice", "k2"))]
    assert answers[0] == 429 and answers[1:] == [200, 200, 200]
    ids = [g["submit_id"] for g in generate_calls()]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    metrics = json.loads(generate_calls()[0]["metrics_extra"])
    assert metrics["originSubmitId"] not in (ids[0], "")


@responses.activate
def test_the_same_key_with_another_body_is_409_and_names_the_task(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    submit(client, {"prompt": "a cat"})
    sent = generate_calls()[0]
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    resp = submit(client, {"prompt": "a dog"})
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert resp.headers["x-should-retry"] == "false" and len(generate_calls()) == 1


@responses.activate
def test_json_and_the_openai_route_with_the_same_content_are_the_same_request(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    first = submit(client, {"prompt": "a cat", "duration": 10, "ratio": "16:9", "model": "jimeng-video-3.0"})
    sent = generate_calls()[0]
    responses.replace(responses.POST, HISTORY_URL, json=envelope({sent["submit_id"]: listed_as_sent(sent)}))
    again = submit(client, {"prompt": "a cat", "seconds": "10", "size": "1280x720", "model": "jimeng-video-3.0"},
                   route="/v1/videos")
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["task_id"]
    assert len(generate_calls()) == 1


@responses.activate
def test_a_retry_whose_first_attempt_is_not_listed_yet_is_409_never_a_second_charge(client):
    responses.post(HISTORY_URL, json=envelope({}))
    resp = submit(client, {"prompt": "a cat"}, route="/v1/videos", **{"X-Stainless-Retry-Count": "1"})
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert resp.headers["x-should-retry"] == "false" and generate_calls() == []
    # the id finds the task by its submit id once Jimeng lists it; until then it is pending
    state = client.get(f"/v1/videos/tasks/{err['task_id']}", headers=auth("s")).get_json()
    assert state["status"] == "pending"


@responses.activate
def test_a_first_attempt_that_is_not_listed_is_submitted(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = submit(client, {"prompt": "a cat"}, **{"X-Stainless-Retry-Count": "0"})
    assert resp.status_code == 200 and len(generate_calls()) == 1


@responses.activate
def test_a_lookup_that_fails_submits_nothing_and_may_be_retried(client):
    responses.post(HISTORY_URL, status=503)
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code == 503 and "task_id" not in resp.get_json()["error"]
    assert "x-should-retry" not in resp.headers and generate_calls() == []


RETRY = {"X-Stainless-Retry-Count": "1"}


@responses.activate
def test_an_sdk_retry_after_a_refusal_that_created_nothing_is_a_fresh_submit(client):
    """Jimeng refused the first attempt (its parallel limit: 429, nothing created); the SDK retries
    with its retry header. The shared state knows the attempt ended empty: the retry is submitted."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    refused = submit(client, {"prompt": "a cat"}, route="/v1/videos")
    assert refused.status_code == 429 and "task_id" not in refused.get_json()["error"]
    retried = submit(client, {"prompt": "a cat"}, route="/v1/videos", **RETRY)
    assert retried.status_code == 200, retried.get_json()
    first, second = generate_calls()
    assert first["submit_id"] == second["submit_id"]
    # and the task it made answers every later repeat, retry header or not
    again = submit(client, {"prompt": "a cat"}, route="/v1/videos", **RETRY)
    assert again.status_code == 200 and again.get_json()["id"] == retried.get_json()["id"]
    assert len(generate_calls()) == 2


@responses.activate
def test_an_sdk_retry_after_a_failed_lookup_is_a_fresh_submit(client):
    responses.post(HISTORY_URL, status=503)
    responses.post(GENERATE_URL, json=generate_answer(RID))
    assert submit(client, {"prompt": "a cat"}).status_code == 503 and generate_calls() == []
    responses.replace(responses.POST, HISTORY_URL, json=envelope({}))
    retried = submit(client, {"prompt": "a cat"}, **RETRY)
    assert retried.status_code == 200, retried.get_json()
    assert len(generate_calls()) == 1


@responses.activate
def test_an_sdk_retry_after_a_lost_generate_answer_stays_409(client):
    """The generate may have reached Jimeng: the mark is held, the retry never sends a second one."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, status=502)
    lost = submit(client, {"prompt": "a cat"})
    retried = submit(client, {"prompt": "a cat"}, **RETRY)
    err = retried.get_json()["error"]
    assert retried.status_code == 409 and err["task_id"] == lost.get_json()["error"]["task_id"]
    assert len(generate_calls()) == 1


@responses.activate
def test_a_refusal_then_a_lost_answer_leaves_no_record_that_nothing_was_created(client):
    """The record of an empty end is cleared before the next generate: a later lost answer wins."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    responses.post(GENERATE_URL, status=502)
    assert submit(client, {"prompt": "a cat"}).status_code == 429
    assert submit(client, {"prompt": "a cat"}).status_code == 503
    retried = submit(client, {"prompt": "a cat"}, **RETRY)
    assert retried.status_code == 409 and len(generate_calls()) == 2


@CLOCK_MOVES_PAST_THE_TTL
@responses.activate
def test_a_retry_once_the_window_ended_is_409_again(client, clock):
    """The record of an empty end lasts the listing window; after it, nothing proves the first attempt
    created nothing (the key may have been used again meanwhile): a retry is a 409 as before."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    assert submit(client, {"prompt": "a cat"}).status_code == 429
    clock.advance(client.application.config["HISTORY_GRACE_SECONDS"] + 1)
    retried = submit(client, {"prompt": "a cat"}, **RETRY)
    assert retried.status_code == 409 and len(generate_calls()) == 1


# -- inside the listing window, for clients that do not say they retry -----------------------------

@responses.activate
def test_a_repeat_without_a_retry_header_before_jimeng_lists_the_task_answers_the_same_task(client):
    """A client of its own (no x-stainless-retry-count) sends its key again right away: Jimeng does
    not list the task yet, and it is still not a second charge."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    first = submit(client, {"prompt": "a cat"})
    again = submit(client, {"prompt": "a cat"})
    assert first.status_code == again.status_code == 200
    assert again.get_json()["task_id"] == first.get_json()["task_id"] and len(generate_calls()) == 1
    other = submit(client, {"prompt": "a dog"})
    err = other.get_json()["error"]
    assert other.status_code == 409 and err["code"] == "idempotency_conflict"
    assert err["task_id"] == first.get_json()["task_id"] and len(generate_calls()) == 1


@responses.activate
def test_a_second_request_while_the_first_is_being_submitted_is_409_with_the_task_id(client):
    """Two requests with one key at once: the one that comes second while the first is at Jimeng."""
    seen = []

    def generate(request):
        # Another request thread, arriving while this generate is under way (a request nested in this
        # thread would share its Flask context, which no server does).
        with ThreadPoolExecutor(1) as other:
            seen.append(other.submit(submit, client, {"prompt": "a cat"}).result())
        return 200, {}, json.dumps(generate_answer(RID))

    responses.post(HISTORY_URL, json=envelope({}))
    responses.add_callback(responses.POST, GENERATE_URL, callback=generate)
    first = submit(client, {"prompt": "a cat"})
    assert first.status_code == 200 and len(seen) == 1
    err = seen[0].get_json()["error"]
    assert seen[0].status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert "being submitted" in err["message"] and len(generate_calls()) == 1


@responses.activate
def test_a_lost_generate_answer_keeps_the_key_from_being_submitted_again(client):
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, status=502)
    lost = submit(client, {"prompt": "a cat"})
    assert lost.status_code == 503 and lost.get_json()["error"]["task_id"]
    again = submit(client, {"prompt": "a cat"})
    err = again.get_json()["error"]
    assert again.status_code == 409 and err["task_id"] and len(generate_calls()) == 1


@CLOCK_MOVES_PAST_THE_TTL
@responses.activate
def test_the_window_ends_with_the_listing_grace(client, clock):
    """After HISTORY_GRACE_SECONDS the marker is gone: history alone answers, as without it."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, status=502)
    submit(client, {"prompt": "a cat"})
    clock.advance(client.application.config["HISTORY_GRACE_SECONDS"] + 1)
    responses.replace(responses.POST, GENERATE_URL, json=generate_answer(RID))
    assert submit(client, {"prompt": "a cat"}).status_code == 200 and len(generate_calls()) == 2


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_every_worker_sees_the_key_before_jimeng_lists_it(request, backend, clock):
    """Two app instances, each with its own connection to the shared state (two workers of one host on
    DATA_DIR; or two hosts sharing REDIS_URL): the second answers the task the first just submitted,
    without a generate of its own."""
    from app.factory import create_app
    from tests.conftest import UPSTREAM

    config = {"JIMENG_UPSTREAM_URL": UPSTREAM}
    if backend == "redis":
        import redis

        config["REDIS_URL"] = request.getfixturevalue("redis_url")
        redis.Redis.from_url(config["REDIS_URL"]).flushdb()
    workers = []
    for _ in range(2):
        worker = create_app(config)
        worker.extensions["clock"] = clock
        workers.append(worker.test_client())
    with responses.RequestsMock() as rsps:
        rsps.post(HISTORY_URL, json=envelope({}))
        rsps.post(GENERATE_URL, json=generate_answer(RID))
        first = submit(workers[0], {"prompt": "a cat"}, key="shared-1")
        again = submit(workers[1], {"prompt": "a cat"}, key="shared-1")
        generates = [c for c in rsps.calls if c.request.url.startswith(GENERATE_URL)]
    assert first.status_code == again.status_code == 200
    assert again.get_json()["task_id"] == first.get_json()["task_id"] and len(generates) == 1


def test_a_malformed_key_is_a_400(client):
    for key in ("", "x" * 256, "naïve"):
        resp = client.post("/v1/videos", json={"prompt": "a"}, headers={**auth("s"), "Idempotency-Key": key})
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == "Idempotency-Key"


# -- the image routes: the same mechanism, one code path ---------------------------------------------

def image_history(listed: dict):
    """get_history_by_ids: a key lookup (`submit_ids`) finds what `listed` holds; a task poll
    (`history_ids`) finds the record finished, with its images."""
    def answer(request):
        asked = json.loads(request.body)
        if "submit_ids" in asked:
            data = {s: listed[s] for s in asked["submit_ids"] if s in listed}
        else:
            data = {h: image_record(h, delivered=2, total=2) for h in asked.get("history_ids", [])}
        return 200, {}, json.dumps(envelope(data))
    return answer


def image_listed_as_sent(sent: dict) -> dict:
    record = image_record(RID, delivered=2, total=2)
    record.update(submit_id=sent["submit_id"], metrics_extra=sent["metrics_extra"],
                  draft_content=sent["draft_content"])
    return record


def image_submit(client, route: str, key: str, *, prompt: str = "a fox", **headers):
    """Each image route as its clients send it: JSON for ours, multipart for OpenAI's edit."""
    headers = {**auth("s"), "Idempotency-Key": key, **headers}
    if route == "/v1/images/edits":
        form = {"prompt": prompt, "n": "2", "async": "true", "image[]": (io.BytesIO(PNG), "cat.png")}
        return client.post(route, data=form, headers=headers, content_type="multipart/form-data")
    body = {"prompt": prompt, "n": 2, "async": True}
    if route == "/v1/images/compositions":
        body["images"] = [PNG_URI]
    return client.post(route, json=body, headers=headers)


IMAGE_ROUTES = ["/v1/images/generations", "/v1/images/compositions", "/v1/images/edits"]


@pytest.fixture
def image_jimeng():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register_image_flow(rsps)
        rsps.post(ALGO_URL, json=envelope({}))
        rsps.post(GENERATE_URL, json=generate_answer(RID))
        listed: dict = {}
        rsps.add_callback(responses.POST, HISTORY_URL, callback=image_history(listed))
        rsps.listed = listed
        yield rsps


def image_generates(rsps) -> list[dict]:
    return [json.loads(c.request.body) for c in rsps.calls if c.request.url.startswith(GENERATE_URL)]


@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_a_repeated_key_on_an_image_route_answers_the_first_task_without_a_second_generate(client, image_jimeng,
                                                                                         route):
    first = image_submit(client, route, "img-42")
    assert first.status_code == 200, first.get_json()
    sent = image_generates(image_jimeng)[0]
    image_jimeng.listed[sent["submit_id"]] = image_listed_as_sent(sent)
    again = image_submit(client, route, "img-42")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["task_id"] == first.get_json()["task_id"]
    assert len(image_generates(image_jimeng)) == 1
    state = client.get(f"/v1/images/tasks/{again.get_json()['task_id']}", headers=auth("s")).get_json()
    assert state["status"] == "completed" and len(state["result"]["images"]) == 2


@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_the_same_key_with_another_image_body_is_409_and_names_the_task(client, image_jimeng, route):
    first = image_submit(client, route, "img-43")
    sent = image_generates(image_jimeng)[0]
    image_jimeng.listed[sent["submit_id"]] = image_listed_as_sent(sent)
    resp = image_submit(client, route, "img-43", prompt="a dog")
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict"
    assert err["task_id"] == first.get_json()["task_id"]
    assert resp.headers["x-should-retry"] == "false" and len(image_generates(image_jimeng)) == 1


def test_the_image_submit_id_is_derived_from_the_key_and_the_draft_carries_the_body_tag(client, image_jimeng):
    image_jimeng.replace(responses.POST, GENERATE_URL, json=envelope(ret="1310", errmsg="too many tasks"))
    assert image_submit(client, "/v1/images/generations", "k1").status_code == 429   # refused: nothing created
    image_jimeng.replace(responses.POST, GENERATE_URL, json=generate_answer(RID))
    for key in ("k1", "k2"):
        assert image_submit(client, "/v1/images/generations", key).status_code == 200
    ids = [g["submit_id"] for g in image_generates(image_jimeng)]
    assert ids[0] == ids[1] != ids[2]
    drafts = [json.loads(g["draft_content"])["id"] for g in image_generates(image_jimeng)]
    assert drafts[0] == drafts[1] != drafts[2] and ids[0] not in drafts


def test_a_blocking_image_answer_retried_with_its_key_answers_the_images_of_the_first_task(client, image_jimeng):
    """The OpenAI SDK's answer was lost (its read timeout): its retry with the same key is not a second task."""
    def blocking(**headers):
        return client.post("/v1/images/generations", json={"prompt": "a fox", "n": 2},
                           headers={**auth("s"), "Idempotency-Key": "img-44", **headers})

    first = blocking()
    assert first.status_code == 200, first.get_json()
    sent = image_generates(image_jimeng)[0]
    image_jimeng.listed[sent["submit_id"]] = image_listed_as_sent(sent)
    again = blocking(**{"X-Stainless-Retry-Count": "1"})
    assert again.status_code == 200 and again.get_json()["task_id"] == first.get_json()["task_id"]
    assert len(again.get_json()["data"]) == 2 and len(image_generates(image_jimeng)) == 1


def test_an_image_retry_whose_first_attempt_is_not_listed_yet_is_409_never_a_second_charge(client, image_jimeng):
    resp = image_submit(client, "/v1/images/generations", "img-45", **{"X-Stainless-Retry-Count": "2"})
    err = resp.get_json()["error"]
    assert resp.status_code == 409 and err["code"] == "idempotency_conflict" and err["task_id"]
    assert resp.headers["x-should-retry"] == "false" and image_generates(image_jimeng) == []
    state = client.get(f"/v1/images/tasks/{err['task_id']}", headers=auth("s"))
    assert state.status_code == 200 and state.get_json()["status"] == "pending"


def test_a_blocking_image_answer_gives_up_before_the_openai_sdks_read_timeout_and_names_its_task(
        app, client, monkeypatch):
    """The SDK reads for 600 s, then retries twice: the image answer must end first, with the task id
    and `x-should-retry: false`, so that a slow task is polled rather than submitted three times."""
    from app.services import submitter
    from config import Config

    for name in ("WAIT_TIMEOUT", "IMAGE_WAIT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    production = Config()
    cfg = app.extensions["app_config"]
    monkeypatch.setattr(cfg, "WAIT_TIMEOUT", production.WAIT_TIMEOUT)
    monkeypatch.setattr(cfg, "IMAGE_WAIT_TIMEOUT", production.IMAGE_WAIT_TIMEOUT, raising=False)
    waited, real_wait = [], submitter.wait_for_task

    def wait_for_task(*args, timeout, **kwargs):
        waited.append(timeout)
        return real_wait(*args, timeout=0, **kwargs)     # the deadline, reached at once

    monkeypatch.setattr(submitter, "wait_for_task", wait_for_task)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(HISTORY_URL, json=envelope({}))          # not listed yet: pending
        rsps.post(GENERATE_URL, json=generate_answer(RID))
        resp = client.post("/v1/images/generations", json={"prompt": "a slow fox"}, headers=auth("s"))
    err = resp.get_json()["error"]
    assert resp.status_code == 504 and err["task_id"] and resp.headers["x-should-retry"] == "false"
    assert waited and waited[0] < 600 <= production.WAIT_TIMEOUT


# -- OPENAI_MODEL_ALIASES on the image routes (here beside the other OpenAI-client guarantees) ----------

@pytest.mark.parametrize("route", IMAGE_ROUTES)
def test_openai_image_model_names_are_refused_unless_aliased(app, client, image_jimeng, route):
    def named(model: str):
        body = {"prompt": "a fox", "model": model, "async": True}
        if route != "/v1/images/generations":
            body["images"] = [PNG_URI]
        return client.post(route, json=body, headers=auth("s"))

    refused = named("dall-e-3")
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "unsupported_model"
    app.extensions["app_config"].OPENAI_MODEL_ALIASES = {"dall-e-3": "default", "gpt-image-1": "jimeng-4.0"}
    assert named("dall-e-3").get_json()["model"] == "jimeng-5.0-pro"     # the region's default image model
    assert named("gpt-image-1").get_json()["model"] == "jimeng-4.0"
    assert named("jimeng-4.5").get_json()["model"] == "jimeng-4.5"      # our names pass untouched


def test_a_key_reused_for_an_image_while_its_video_is_not_listed_is_409(client, image_jimeng):
    """The marker is the key's, not the kind's: an image request with a video's key is another request."""
    video = submit(client, {"prompt": "a cat"}, key="k-x")
    assert video.status_code == 200, video.get_json()
    image = image_submit(client, "/v1/images/generations", "k-x")
    assert image.status_code == 409 and image.get_json()["error"]["task_id"] == video.get_json()["task_id"]
    assert len(image_generates(image_jimeng)) == 1


@CLOCK_MOVES_PAST_THE_TTL
def test_the_mark_outlives_slow_uploads_and_a_late_comer_never_makes_a_second_generate(client, clock):
    """Uploads may take longer than the listing window. A repeat that arrives after the first
    request's mark expired takes the key; the first then finds the key taken just before its
    generate and sends nothing: one generate for the key either way."""
    seen, started = [], []

    def content_check(request):
        if not started:
            started.append(True)
            clock.advance(client.application.config["HISTORY_GRACE_SECONDS"] + 1)
            with ThreadPoolExecutor(1) as other:   # the repeat, on another thread, while uploads go on
                seen.append(other.submit(image_submit, client, "/v1/images/compositions", "slow-1").result())
        return 200, {}, json.dumps(envelope({}))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        register_image_flow(rsps)
        rsps.add_callback(responses.POST, ALGO_URL, callback=content_check)
        rsps.post(GENERATE_URL, json=generate_answer(RID))
        rsps.add_callback(responses.POST, HISTORY_URL, callback=image_history({}))
        first = image_submit(client, "/v1/images/compositions", "slow-1")
        generates = image_generates(rsps)
    assert seen[0].status_code == 200 and len(generates) == 1
    err = first.get_json()["error"]
    assert first.status_code == 409 and err["code"] == "idempotency_conflict"
    assert err["task_id"] and "being submitted" in err["message"]


def test_two_clients_with_equal_keys_never_meet(client):
    """Keys are the client's own: another bearer's equal Idempotency-Key is another request."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(HISTORY_URL, json=envelope({}))
        rsps.post(GENERATE_URL, json=generate_answer(RID))
        a = submit(client, {"prompt": "a cat"}, key="shared", token="alice")
        b = submit(client, {"prompt": "a cat"}, key="shared", token="bob")
        generates = [c for c in rsps.calls if c.request.url.startswith(GENERATE_URL)]
    assert a.status_code == b.status_code == 200 and len(generates) == 2


class StateDown:
    """The shared state (Redis) unreachable for the calls named in `failing`."""

    def __init__(self, inner, failing: set[str]) -> None:
        self._inner, self.failing = inner, failing

    def __getattr__(self, name):
        if name in self.failing:
            def down(*args):
                raise errors.StateUnavailable()
            return down
        return getattr(self._inner, name)


@responses.activate
def test_a_keyed_submit_without_its_shared_state_is_a_503_before_anything_is_sent(clock, shared_state):
    client = made_app(clock, shared_state=StateDown(shared_state, {"get", "put_new"})).test_client()
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "state_unavailable"
    assert generate_calls() == []


@responses.activate
def test_a_keyed_submit_with_an_unusable_data_dir_is_a_503_not_a_500(tmp_path):
    """DATA_DIR that cannot be made (here: its parent is a file): the app still starts, a keyed submit
    is a 503 before anything is sent, and one without a key (no shared state needed) goes through."""
    from app.factory import create_app
    from tests.conftest import UPSTREAM

    (tmp_path / "blocked").write_text("not a directory")
    client = create_app({"JIMENG_UPSTREAM_URL": UPSTREAM, "DATA_DIR": str(tmp_path / "blocked" / "data")}).test_client()
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "state_unavailable"
    assert resp.headers["Retry-After"] and generate_calls() == []
    plain = client.post("/v1/videos/generations", json={"prompt": "a cat"}, headers=auth("s"))
    assert plain.status_code == 200 and len(generate_calls()) == 1


@responses.activate
def test_a_marker_write_that_fails_after_jimeng_took_the_task_still_answers_the_task(clock, shared_state, caplog):
    client = made_app(clock, shared_state=StateDown(shared_state, {"put"})).test_client()
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    resp = submit(client, {"prompt": "a cat"})
    assert resp.status_code == 200 and resp.get_json()["task_id"] and len(generate_calls()) == 1
    assert "idempotency marker not written" in caplog.text


# -- one key, one account, however the bearer lists its tokens ---------------------------------------

@pytest.mark.parametrize("first,second", [("alice", "alice,alice"), ("alice", "alice,bob"),
                                          ("alice,bob", "bob,alice"), ("bob,alice", "alice")])
@responses.activate
def test_one_key_on_one_account_is_one_task_however_the_bearer_lists_its_tokens(client, first, second):
    """Jimeng does not list the task yet: the marker alone stands between the key and a second charge,
    whatever other tokens (or the same one twice) the repeat's Authorization lists."""
    responses.post(HISTORY_URL, json=envelope({}))
    responses.post(GENERATE_URL, json=generate_answer(RID))
    a = submit(client, {"prompt": "a cat"}, key="listed-1", token=first)
    b = submit(client, {"prompt": "a cat"}, key="listed-1", token=second)
    assert a.status_code == b.status_code == 200, (a.get_json(), b.get_json())
    assert b.get_json()["task_id"] == a.get_json()["task_id"] and len(generate_calls()) == 1


@pytest.mark.parametrize("second", ["alice,alice", "alice,bob", "bob,alice"])
@responses.activate
def test_a_repeat_listing_the_account_among_others_while_the_first_is_at_jimeng_is_409(client, second):
    seen = []

    def generate(request):
        with ThreadPoolExecutor(1) as other:
            seen.append(other.submit(submit, client, {"prompt": "a cat"}, "listed-2", second).result())
        return 200, {}, json.dumps(generate_answer(RID))

    responses.post(HISTORY_URL, json=envelope({}))
    responses.add_callback(responses.POST, GENERATE_URL, callback=generate)
    first = submit(client, {"prompt": "a cat"}, key="listed-2", token="alice")
    assert first.status_code == 200 and len(generate_calls()) == 1
    err = seen[0].get_json()["error"]
    assert seen[0].status_code == 409 and err["code"] == "idempotency_conflict" and "being submitted" in err["message"]


@responses.activate
def test_a_refused_repeat_leaves_no_mark_on_the_other_accounts_it_listed(client):
    """A repeat that finds the key held on one of its accounts takes no mark on the others: that other
    account's own use of the key right after goes through."""
    seen = []

    def generate(request):
        if not seen:
            with ThreadPoolExecutor(1) as other:
                seen.append(other.submit(submit, client, {"prompt": "a cat"}, "listed-3", "alice,bob").result())
        return 200, {}, json.dumps(generate_answer(RID))

    responses.post(HISTORY_URL, json=envelope({}))
    responses.add_callback(responses.POST, GENERATE_URL, callback=generate)
    assert submit(client, {"prompt": "a cat"}, key="listed-3", token="alice").status_code == 200
    assert seen[0].status_code == 409
    bob = submit(client, {"prompt": "a cat"}, key="listed-3", token="bob")
    assert bob.status_code == 200 and len(generate_calls()) == 2
