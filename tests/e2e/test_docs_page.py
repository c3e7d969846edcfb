"""/docs in a real headless Chromium (Debian's): a person can pick a file and submit from the page."""
from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.e2e.conftest import FAST, TIMEOUT

pytestmark = pytest.mark.e2e
SAMPLE_PNG = Path(__file__).resolve().parents[2] / "sandbox" / "assets" / "sample.png"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_the_docs_page_uploads_a_file_and_submits_a_video(stack):
    before = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            offline = []
            page.on("request", lambda r: offline.append(r.url) if not r.url.startswith(stack.service_url) else None)
            page.goto(f"{stack.service_url}/docs", wait_until="networkidle")
            page.click("button.authorize")
            page.locator(".modal-ux input").first.fill(f"e2e-docs-{secrets.token_hex(8)}")
            page.click(".modal-ux button.authorize")
            page.click(".modal-ux button.btn-done")
            block = page.locator(".opblock-post").filter(
                has=page.locator('.opblock-summary-path[data-path="/v1/videos"]'))
            block.locator(".opblock-summary").click()
            block.locator("button.try-out__btn").click()
            select = block.locator(".body-param-content-type select")
            if select.count():
                select.select_option("multipart/form-data")
            block.locator('tr[data-property-name="prompt"] input').fill(f"{FAST} from the docs page")
            block.locator('tr[data-property-name="input_reference"] input[type=file]').set_input_files(str(SAMPLE_PNG))
            block.locator("button.execute").click()
            status = block.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=30_000)
            body = block.locator(".live-responses-table tbody .response-col_description pre").first.inner_text()
            assert status.inner_text().strip().startswith("200"), body
            assert '"object": "video"' in body and '"status": "queued"' in body
            assert offline == []     # the page and its scripts come from the service itself
        finally:
            browser.close()
    after = requests.get(f"{stack.sandbox_url}/_sandbox/calls", timeout=TIMEOUT).json()["counts"]
    uploads = "/?Action=CommitImageUpload"
    assert after.get(uploads, 0) - before.get(uploads, 0) == 1
