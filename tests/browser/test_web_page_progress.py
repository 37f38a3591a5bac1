"""A meeting being processed shows its step and a filling bar, not an indeterminate one.

No models: the worker's own database calls (claim, ``report_progress``) move the
meeting, against a real API on the local store; the page polls as it does for users.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from ivrimeet import db
from tests.browser.conftest import watched_page
from tests.integration.api_support import noise_wav, upload
from tests.servers.api import API_TOKEN, ApiServer

pytestmark = pytest.mark.slow


def test_the_progress_bar_follows_the_jobs_reports(chromium: Any, local_api: ApiServer) -> None:
    meeting_id = str(upload(local_api, noise_wav(64_000), title="long")["id"])
    database = local_api.services.database
    claim = db.claim_for_processing(database, meeting_id, worker="test")
    assert claim is not None
    with watched_page(chromium, local_api.url) as page:
        page.goto(local_api.url + "/")
        page.get_by_label("API token").fill(API_TOKEN)
        page.get_by_role("button", name="Continue").click()
        page.locator(".meeting-row", has_text="long").get_by_role("link", name="long").click()
        bar = page.locator("#meeting-progress")
        expect(bar).to_be_visible()
        expect(bar).to_have_js_property("position", -1)  # indeterminate: no report yet

        assert db.report_progress(database, claim, "embeddings", 45)

        expect(bar).to_have_attribute("value", "45")
        expect(bar).to_have_js_property("position", 0.45)
        expect(bar).to_have_attribute("aria-valuetext", "Telling voices apart: 45 % done")
        expect(page.locator("#meeting-message")).to_contain_text("Telling voices apart: 45 % done.")

        assert db.report_progress(database, claim, "voiceprints", 91)

        expect(bar).to_have_attribute("value", "91")
        expect(page.locator("#meeting-message")).to_contain_text("Computing voiceprints")
