"""`make demo`, as the README promises it: a video followed to its file with a progress bar, and its
signed webhook verified on arrival."""
from __future__ import annotations

import subprocess
import sys

import pytest

from sandbox.stack import ROOT

pytestmark = pytest.mark.e2e


def test_the_demo_follows_a_video_to_its_file_and_its_webhook_arrives_verified():
    done = subprocess.run([sys.executable, "-m", "sandbox.demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=180)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "webhook video.completed received, signature verified" in done.stdout
    assert "an MP4 of" in done.stdout and "status=completed" in done.stderr
    assert "demo done; the stack is stopped" in done.stdout
