"""The page when objects live in S3 (moto): audio streams through the API's media links.

No models here: the worker's results are written the way the worker writes them
(``fake_results``), so this checks the page's S3 path (upload into a multipart
upload, the Content-Security-Policy, playback that never asks the bucket) in seconds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.audio import TwoVoiceRecording
from tests.browser.conftest import watched_page
from tests.integration.api_support import fake_results
from tests.servers.api import API_TOKEN, ApiServer
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_with_objects_in_s3_the_recording_and_snippets_play_through_the_api(
    chromium: Any, s3_api: ApiServer, two_voice_recordings: TwoVoiceRecording
) -> None:
    # The page may ask only the API: a request to the bucket fails the test.
    with watched_page(chromium, s3_api.url) as page:
        page.goto(s3_api.url + "/")
        page.get_by_label("API token").fill(API_TOKEN)
        page.get_by_role("button", name="Continue").click()
        page.locator("#file-input").set_input_files(two_voice_recordings.mp3)
        row = page.locator(".meeting-row", has_text="two-voices")
        expect(row).to_have_attribute("data-status", "queued")
        meeting_id = row.get_attribute("data-meeting-id")
        assert meeting_id
        fake_results(s3_api, meeting_id)
        expect(row).to_have_attribute("data-status", "done")
        expect(row.locator(".meeting-facts")).to_contain_text("2 speakers")

        row.get_by_role("link", name="two-voices").click()
        expect(page.locator("#timeline .lane:not(.axis-row)")).to_have_count(2)
        recording = page.locator("#recording")
        wait_until(lambda: recording.get_attribute("src"), message="the recording has a URL")
        src = recording.get_attribute("src") or ""
        assert src.startswith(f"{s3_api.url}/media/{meeting_id}/recording?")
        page.locator("#timeline .turn").last.click()
        wait_until(
            lambda: recording.evaluate("a => a.currentTime >= 1"),
            timeout=20,
            message="the recording plays from the chosen turn",
        )
        recording.evaluate("a => a.pause()")

        snippet = page.locator(".speaker").first.locator("audio.snippet")
        page.locator(".speaker").first.get_by_role("button", name="Play sample").click()
        wait_until(
            lambda: snippet.evaluate("a => a.ended"), timeout=30, message="the snippet ended"
        )
        assert origin(snippet.evaluate("a => a.currentSrc")) == s3_api.url
