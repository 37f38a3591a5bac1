"""A meeting processed with a warning (a recording cut short) shows it on the page.

No models: the worker's results, warning included, are written the way the
worker writes them (``fake_results``), against a real API on the local store.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import watched_page
from tests.integration.api_support import fake_results, noise_wav, upload
from tests.servers.api import API_TOKEN, ApiServer

pytestmark = pytest.mark.slow

WARNING = "The recording ends at 2.4 s although its header says 6.3 s: the file may be cut short."


def test_a_meeting_processed_with_a_warning_shows_the_warning(
    chromium: Any, local_api: ApiServer
) -> None:
    warned = str(upload(local_api, noise_wav(64_000), title="cut-short")["id"])
    fake_results(local_api, warned, warning=WARNING)
    clean = str(upload(local_api, noise_wav(64_000), title="whole")["id"])
    fake_results(local_api, clean)
    with watched_page(chromium, local_api.url) as page:
        page.goto(local_api.url + "/")
        page.get_by_label("API token").fill(API_TOKEN)
        page.get_by_role("button", name="Continue").click()

        page.locator(".meeting-row", has_text="whole").get_by_role("link", name="whole").click()
        expect(page.locator("#timeline .lane:not(.axis-row)")).to_have_count(2)
        expect(page.locator("#meeting-message")).not_to_contain_text("warning")

        page.go_back()
        row = page.locator(".meeting-row", has_text="cut-short")
        row.get_by_role("link", name="cut-short").click()
        expect(page.locator("#timeline .lane:not(.axis-row)")).to_have_count(2)
        expect(page.locator("#meeting-message")).to_have_text(
            f"Processed with a warning: {WARNING}"
        )
