"""`python -m app.cli image` against a mocked service: every image saved, tasks followed with a bar."""
from __future__ import annotations

from responses import matchers

from tests.unit.test_cli import BASE, fake_time, mocked, run  # noqa: F401  (fake_time, mocked: fixtures)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
IMG = "https://cdn.test/img"


def test_blocking_image_saves_every_image_without_sending_the_token_to_the_cdn(mocked, tmp_path, capsys):
    mocked.post(f"{BASE}/v1/images/generations",
                match=[matchers.json_params_matcher({"prompt": "a fox", "n": 2, "ratio": "16:9"})],
                json={"created": 1, "task_id": "AQFimg_task_ABCDEFGH",
                      "data": [{"url": f"{IMG}/0.png", "revised_prompt": "a fox"},
                               {"url": f"{IMG}/1.png", "revised_prompt": "a fox"}]})
    for n in range(2):
        mocked.get(f"{IMG}/{n}.png", body=PNG, content_type="image/png")

    code = run("image", "a fox", "-n", "2", "--ratio", "16:9", "--output", str(tmp_path), "-q")

    assert code == 0
    saved = sorted(tmp_path.iterdir())
    assert [p.name for p in saved] == ["ask_ABCDEFGH-1.png", "ask_ABCDEFGH-2.png"]
    assert all(p.read_bytes() == PNG for p in saved)
    cdn_calls = [c for c in mocked.calls if c.request.url.startswith(IMG)]
    assert all("Authorization" not in c.request.headers for c in cdn_calls)
    assert capsys.readouterr().out.split() == [str(p) for p in saved]


def test_async_image_with_a_local_reference_is_followed_to_the_end(mocked, fake_time, tmp_path):
    ref = tmp_path / "cat.png"
    ref.write_bytes(PNG)
    mocked.post(f"{BASE}/v1/images/compositions", json={"created": 1, "task_id": "T1", "status": "pending"})
    task_url = f"{BASE}/v1/images/tasks/T1"
    mocked.get(task_url, json={"task_id": "T1", "status": "processing", "progress": 40})
    mocked.get(task_url, json={"task_id": "T1", "status": "completed", "progress": 100, "result": {
        "url": f"{IMG}/0.png", "images": [{"url": f"{IMG}/0.png", "width": 8, "height": 8}]}})
    mocked.get(f"{IMG}/0.png", body=PNG, content_type="image/png")

    code = run("image", "mix", "--image", str(ref), "--async", "--output", str(tmp_path / "out"), "-q")

    assert code == 0
    assert (tmp_path / "out" / "T1-1.png").read_bytes() == PNG
    form = mocked.calls[0].request.body
    assert b'name="async"' in form and b'filename="cat.png"' in form and b'name="images"' in form


def test_a_failed_image_task_exits_1(mocked, fake_time, tmp_path, capsys):
    mocked.post(f"{BASE}/v1/images/generations", json={"created": 1, "task_id": "T2", "status": "pending"})
    mocked.get(f"{BASE}/v1/images/tasks/T2", json={"task_id": "T2", "status": "failed", "error": "no",
                                                   "error_code": "content_rejected"})

    assert run("image", "x", "--async", "--output", str(tmp_path), "-q") == 1
    assert "content_rejected" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# -- following an image task: --kind image on status, wait and batch ----------------------------

IMAGE_TASK = "AQFimg_task_ZYXWVUTS"
IMAGE_TASK_URL = f"{BASE}/v1/images/tasks/{IMAGE_TASK}"


def image_state(status: str, progress: int, images: int = 0, **extra) -> dict:
    result = {"url": f"{IMG}/0.png", "images": [{"url": f"{IMG}/{n}.png", "width": 8, "height": 8}
                                                for n in range(images)]} if images else None
    return {"task_id": IMAGE_TASK, "status": status, "progress": progress, "created": 1,
            "model": "jimeng-5.0-pro", **({"result": result} if result else {}), **extra}


def test_the_id_printed_by_image_async_is_followed_by_wait_kind_image_with_a_bar(mocked, fake_time, tmp_path,
                                                                                  capsys):
    mocked.post(f"{BASE}/v1/images/generations", json={"created": 1, "task_id": IMAGE_TASK, "status": "pending"})
    mocked.get(IMAGE_TASK_URL, json=image_state("pending", 0))
    # The first run gives up at once (as an interrupted one would): it has printed the id.
    assert run("image", "two foxes", "-n", "2", "--async", "--timeout", "1", "--output", str(tmp_path), "-q") == 2
    printed = capsys.readouterr().err
    assert f"submitted {IMAGE_TASK}" in printed and f"resume with: wait --kind image {IMAGE_TASK}" in printed

    mocked.get(IMAGE_TASK_URL, json=image_state("pending", 0, queue={"position": 2, "length": 9}))
    mocked.get(IMAGE_TASK_URL, json=image_state("processing", 49))
    mocked.get(IMAGE_TASK_URL, json=image_state("completed", 100, images=2))
    for n in range(2):
        mocked.get(f"{IMG}/{n}.png", body=PNG, content_type="image/png")

    code = run("wait", "--kind", "image", IMAGE_TASK, "--interval", "3", "--output", str(tmp_path / "out"))

    out, err = capsys.readouterr()
    assert code == 0
    saved = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in saved] == ["ask_ZYXWVUTS-1.png", "ask_ZYXWVUTS-2.png"]
    assert out.split() == [str(p) for p in saved]
    assert "status=pending" in err and "queue=2/9" in err and "status=completed" in err   # the progress bar
    assert fake_time.sleeps == [3.0, 3.0] and not any("/v1/videos/" in c.request.url for c in mocked.calls)


def test_wait_kind_image_without_output_prints_every_url(mocked, fake_time, capsys):
    mocked.get(IMAGE_TASK_URL, json=image_state("completed", 100, images=3))

    assert run("wait", "--kind", "image", IMAGE_TASK, "-q") == 0
    assert capsys.readouterr().out.split() == [f"{IMG}/{n}.png" for n in range(3)]


def test_a_failed_image_task_followed_by_wait_exits_1(mocked, fake_time, tmp_path, capsys):
    mocked.get(IMAGE_TASK_URL, json=image_state("failed", 30, error="2 of 4", error_code="generation_failed"))

    assert run("wait", "--kind", "image", IMAGE_TASK, "--output", str(tmp_path), "-q") == 1
    assert "generation_failed" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_status_kind_image_asks_the_image_route_and_counts_the_images(mocked, capsys):
    mocked.get(IMAGE_TASK_URL, json=image_state("completed", 100, images=4))

    assert run("status", "--kind", "image", IMAGE_TASK) == 0
    assert capsys.readouterr().out == f"{IMAGE_TASK}  completed  100%  {IMG}/0.png  (4 images)\n"


def test_batch_kind_image_asks_the_image_batch_route(mocked, capsys):
    mocked.post(f"{BASE}/v1/images/tasks/batch",
                match=[matchers.json_params_matcher({"task_ids": [IMAGE_TASK, "bad"]})],
                json={"data": [image_state("processing", 40),
                               {"task_id": "bad", "status": "not_found", "error": "no such task",
                                "error_code": "task_not_found"}]})

    assert run("batch", "--kind", "image", IMAGE_TASK, "bad") == 0
    assert capsys.readouterr().out.splitlines() == [f"{IMAGE_TASK}  processing  40%",
                                                    "bad  not_found  no such task (task_not_found)"]


def test_an_image_id_on_the_video_routes_is_404_with_a_hint_to_add_kind_image(mocked, fake_time, capsys):
    mocked.get(f"{BASE}/v1/videos/tasks/{IMAGE_TASK}", status=404,
               json={"error": {"code": "task_not_found", "message": "no such task", "param": None}})

    assert run("wait", IMAGE_TASK, "-q") == 2
    assert "task_not_found" in (err := capsys.readouterr().err) and "add --kind image" in err


def test_giving_up_on_an_image_task_says_how_to_resume_it(mocked, fake_time, capsys):
    mocked.get(IMAGE_TASK_URL, json=image_state("processing", 10))

    assert run("wait", "--kind", "image", IMAGE_TASK, "--interval", "10", "--timeout", "15", "-q") == 2
    assert f"resume with: wait --kind image {IMAGE_TASK}" in capsys.readouterr().err
