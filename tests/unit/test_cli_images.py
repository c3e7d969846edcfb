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
