"""A meeting whose processing fails: the page says why, can start it again, and delete it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ivrimeet.processing.models import LoadedModels
from ivrimeet.worker.jobs import JobContext, run_job
from tests.audio import write_lying_wav
from tests.browser.conftest import assert_accessible, watched_page
from tests.browser.known_models import KnownModels, KnownTurnsPipeline, PitchEncoder
from tests.servers.api import API_TOKEN, SettingsFactory, run_api

pytestmark = pytest.mark.slow


def test_a_recording_that_cannot_be_decoded_shows_the_reason_and_can_be_processed_again(
    chromium: Any, api_settings: SettingsFactory, tmp_path: Path
) -> None:
    lying = write_lying_wav(tmp_path / "minutes.wav")  # sniffs as WAV, decodes as nothing
    with run_api(api_settings()) as api, watched_page(chromium, api.url) as page:
        page.goto(api.url + "/")
        page.get_by_label("API token").fill(API_TOKEN)
        page.get_by_role("button", name="Continue").click()
        page.locator("#file-input").set_input_files(lying)
        row = page.locator(".meeting-row", has_text="minutes")
        expect(row).to_have_attribute("data-status", "queued")
        meeting_id = row.get_attribute("data-meeting-id")
        assert meeting_id

        worker = JobContext(
            database=api.services.database,
            store=api.services.store,
            models=KnownModels(LoadedModels(KnownTurnsPipeline([]), PitchEncoder())),  # type: ignore[arg-type]
            snippet_seconds=15.0,
            worker_name="failing",
        )
        run_job(worker, meeting_id, retries_left=0)
        with api.client() as client:
            reason = client.get(f"/api/meetings/{meeting_id}").json()["error"]
        assert reason

        expect(row).to_have_attribute("data-status", "failed")
        expect(row.locator(".meeting-error")).to_have_text(reason.split("\n")[0])
        row.get_by_role("link", name="minutes").click()
        expect(page.locator("#meeting-message")).to_contain_text("Processing failed: ")
        expect(page.locator("#meeting-message")).to_contain_text(reason.split("\n")[0])
        assert_accessible(page, "a failed meeting")

        page.get_by_role("button", name="Process again").click()
        expect(page.locator("#meeting-status")).to_have_text("Queued")
        with api.client() as client:
            assert client.get(f"/api/meetings/{meeting_id}").json()["status"] == "queued"

        # Deleting from the list asks first; keeping it changes nothing.
        page.get_by_role("link", name="← All meetings").click()
        row.get_by_role("button", name="Delete minutes").click()
        page.get_by_role("dialog").get_by_role("button", name="Keep it").click()
        expect(page.get_by_role("dialog")).to_be_hidden()
        expect(row).to_be_visible()
        row.get_by_role("button", name="Delete minutes").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete meeting").click()
        expect(row).to_have_count(0)
        with api.client() as client:
            assert client.get(f"/api/meetings/{meeting_id}").status_code == 404
