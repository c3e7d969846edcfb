"""Every curl, jimeng-api and Python example of README.md and docs/*.md, run as its page shows it
against the stack `make try` starts, with the answer each page shows checked.

The examples are read from the markdown (tests/docs_examples.py says how); nothing here repeats
one. Each page runs top to bottom with its own token, as a reader would: `$TASK_ID` and
`$IMAGE_TASK_ID` are the task ids the page's earlier answers gave. Every example must exit 0; a curl
must answer 2xx, or 4xx/5xx where the page shows an error; a shown JSON answer must be there in
shape (keys, list lengths, the codes), a shown text answer line by line.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.stack import Stack
from sandbox.try_it import try_stack
from tests.docs_examples import (ROOT, Example, documentation_pages, lacks, read_page, shown_json,
                                 task_ids_in, unmatched_lines)

pytestmark = pytest.mark.e2e

# The sandbox's address under `make try`'s default SANDBOX_PORT: the pages' sample media URLs.
SANDBOX_ADDRESS = "http://127.0.0.1:8701"
ASSETS = ROOT / "sandbox" / "assets"
SAMPLES = {".png": "sample.png", ".jpg": "sample.jpg", ".jpeg": "sample.jpg", ".mp4": "sample.mp4"}
LOCAL_FILE = re.compile(r"(?<![\w./:-])([\w-]+\.(?:png|jpe?g|mp4))\b")
EXAMPLE_TIMEOUT = 180.0      # seconds; a blocking example waits for a whole (sandbox) task
# Only times shortened (the answers are the same): tasks queue 1 s and generate 2 s instead of 2 + 4,
# and blocking answers poll every half second.
QUICK_SANDBOX = {"SANDBOX_QUEUE_SECONDS": "1", "SANDBOX_GENERATE_SECONDS": "2"}
QUICK_SERVICE = {"WAIT_POLL_SECONDS": "0.5"}
# The pages with examples to run (the fast test, tests/unit/test_docs.py, checks that every other
# block is marked with its reason).
PAGES = [str(p.relative_to(ROOT)) for p in documentation_pages() if any(e.runs for e in read_page(p).examples)]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with try_stack(service_env=QUICK_SERVICE, sandbox_env=QUICK_SANDBOX) as running:
        yield running


@pytest.mark.parametrize("page", PAGES)
def test_every_example_of_the_page_runs_as_shown(page, stack, tmp_path):
    found = read_page(ROOT / page)
    assert not found.problems, "\n".join(found.problems)
    runnable = [e for e in found.examples if e.runs]
    workdir = _workdir(tmp_path, runnable)
    env = _environment(stack, tmp_path)
    for example in runnable:
        output, status = _run(example, stack, env, workdir)
        _check(example, output, status, stack)
        env.update(task_ids_in(example, output.stdout) or task_ids_in(example, output.stderr))


def _workdir(tmp_path: Path, examples: list[Example]) -> Path:
    """The reader's current directory: every local picture or video an example names, as a sample."""
    workdir = tmp_path / "reader"
    workdir.mkdir()
    for example in examples:
        for name in LOCAL_FILE.findall(example.text):
            sample = SAMPLES[Path(name).suffix.lower()]
            shutil.copyfile(ASSETS / sample, workdir / name)
    return workdir


def _environment(stack: Stack, tmp_path: Path) -> dict[str, str]:
    """What a reader has set: the two variables, the venv on the PATH; curl reports its HTTP status
    on stderr (a ~/.curlrc of the test's own) so a 4xx cannot pass for an answer."""
    curl_home = tmp_path / "curl-home"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text('write-out = "%{stderr}\\nHTTP %{http_code}\\n"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("TASK_ID", "IMAGE_TASK_ID")}
    env.update(JIMENG_API_URL=stack.service_url, JIMENG_TOKEN=f"try-session-{secrets.token_hex(8)}",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               CURL_HOME=str(curl_home), PYTHONUNBUFFERED="1")
    return env


def _run(example: Example, stack: Stack, env: dict, workdir: Path) -> tuple[subprocess.CompletedProcess, int | None]:
    text = example.text.replace(SANDBOX_ADDRESS, stack.sandbox_url)
    if example.kind == "python":
        argv = [sys.executable, "-c", text]
    else:
        argv = ["bash", "-u", "-o", "pipefail", "-c", text]      # an unset placeholder fails
    try:
        proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=EXAMPLE_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{example.where}: still running after {EXAMPLE_TIMEOUT:g} s\n{example.text}")
    statuses = [int(s) for s in re.findall(r"^HTTP (\d{3})$", proc.stderr, re.M)]
    stderr = re.sub(r"^\n?HTTP \d{3}\n?", "", proc.stderr, flags=re.M)
    cleaned = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout, stderr)
    return cleaned, (statuses[-1] if statuses else None)


def _check(example: Example, proc: subprocess.CompletedProcess, status: int | None, stack: Stack) -> None:
    said = f"{example.where}:\n{example.text}\n--- stdout:\n{proc.stdout[-3000:]}\n--- stderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"exited {proc.returncode}: {said}"
    try:
        shape = shown_json(example.shown)
    except ValueError as exc:
        pytest.fail(f"the answer shown is not JSON ({exc}): {said}")
    if example.kind == "curl":
        shows_error = isinstance(shape, dict) and set(shape) == {"error"}      # {"error": {code, message, param}}
        assert status is not None, f"curl reported no HTTP status: {said}"
        if shows_error:
            assert status >= 400, f"the page shows an error, the service answered {status}: {said}"
        else:
            assert 200 <= status < 300, f"answered HTTP {status}: {said}"
    if shape is not None:
        try:
            actual = json.loads(proc.stdout)
        except ValueError:
            pytest.fail(f"the page shows JSON, the answer is not: {said}")
        problems = lacks(shape, actual)
        assert not problems, f"{'; '.join(problems)}: {said}"
    elif example.shown:
        shown = example.shown.replace(SANDBOX_ADDRESS, stack.sandbox_url)
        missing = unmatched_lines(shown, proc.stdout + "\n" + proc.stderr)
        assert not missing, f"no output line like {missing}: {said}"
