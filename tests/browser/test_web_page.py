"""The web page in a real browser against a real ``ivrimeet serve`` with the tiny models.

The whole user journey (upload through the page, processing, timeline,
playback, snippet, rename, RTTM, delete) is one test because processing is the
slow part; the error paths each get their own. Random-weight models diarize at
random, so the journey checks structure (a lane per speaker, a turn per
segment) against the API's own answer, never who spoke when.
"""

from __future__ import annotations

import base64
import re
import wave
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.audio import TwoVoiceRecording
from tests.browser.conftest import (
    MAX_UPLOAD_BYTES,
    ServedIvrimeet,
    assert_accessible,
    watched_page,
)
from tests.servers.api import SettingsFactory, run_api
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

PROCESSING_TIMEOUT = 300


def sign_in(page: Page, served: ServedIvrimeet) -> None:
    page.goto(served.url + "/")
    page.get_by_label("API token").fill(served.token)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()


def meeting_count(served: ServedIvrimeet) -> int:
    with served.api() as api:
        total: int = api.get("/api/meetings").json()["total"]
    return total


def recording_objects(served: ServedIvrimeet) -> list[Path]:
    folder = served.data_dir / "objects" / "audio"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def drop_file(page: Page, selector: str, name: str, data: bytes, mime: str) -> None:
    """Drag a file from outside the browser and drop it on ``selector``."""
    transfer = page.evaluate_handle(
        """([name, b64, mime]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: mime }));
            return transfer;
        }""",
        [name, base64.b64encode(data).decode(), mime],
    )
    for event in ("dragenter", "dragover", "drop"):
        page.dispatch_event(selector, event, {"dataTransfer": transfer})


def silent_wav(path: Path, size: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\0" * (size // 2 * 2))
    return path


def wait_for_processing(page: Page, title: str) -> None:
    row = page.locator(".meeting-row", has_text=title)
    wait_until(
        lambda: row.get_attribute("data-status") in ("done", "failed"),
        timeout=PROCESSING_TIMEOUT,
        interval=0.5,
        message=f"meeting {title!r} processed",
    )
    assert row.get_attribute("data-status") == "done", row.inner_text()


def test_a_recording_uploaded_through_the_page_can_be_followed_heard_named_and_deleted(
    page: Page,
    served_ivrimeet: ServedIvrimeet,
    two_voice_recordings: TwoVoiceRecording,
    tmp_path: Path,
) -> None:
    served = served_ivrimeet
    title = "Quarterly review"
    sign_in(page, served)

    # Upload with the file picker; the new meeting shows up with a live status.
    page.get_by_label("Title").fill(title)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose a file…").click()
    chooser.value.set_files(two_voice_recordings.short_wav)
    expect(page.locator("#upload-message")).to_contain_text(f"Uploaded “{title}”")
    row = page.locator(".meeting-row", has_text=title)
    expect(row).to_be_visible()
    wait_for_processing(page, title)
    expect(row.locator(".meeting-facts")).to_contain_text(re.compile(r"\d+ speakers?"))

    assert_accessible(page, "the meetings list")

    row.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    meeting_id = page.url.rsplit("/", 1)[-1]
    with served.api() as api:
        meeting = api.get(f"/api/meetings/{meeting_id}").json()
        rttm = api.get(f"/api/meetings/{meeting_id}/rttm").text
    speakers, segments = meeting["speakers"], meeting["segments"]
    assert meeting["status"] == "done" and speakers

    # The timeline: a lane per speaker, a turn per segment, a time axis.
    lanes = page.locator("#timeline .lane:not(.axis-row)")
    expect(lanes).to_have_count(len(speakers))
    expect(page.locator("#timeline .turn")).to_have_count(len(segments))
    assert page.locator("#timeline .tick").count() >= 2
    assert_accessible(page, "the meeting page")
    page.emulate_media(color_scheme="dark")
    assert_accessible(page, "the meeting page in dark mode")
    page.emulate_media(color_scheme="light")

    # Choosing a turn plays the recording from there, and the playhead follows.
    recording = page.locator("#recording")
    last = max(segments, key=lambda s: s["start"])
    lane = lanes.nth([s["id"] for s in speakers].index(last["speaker_id"]))
    lane.locator(".turn").last.click()
    wait_until(
        lambda: recording.evaluate("a => !a.paused && a.currentTime > 0"),
        timeout=20,
        message="the recording plays",
    )
    assert recording.evaluate("a => a.currentTime") >= last["start"] - 0.5
    recording.evaluate("a => a.pause()")
    playhead = lane.locator(".playhead")
    position = recording.evaluate("a => a.currentTime") / float(
        max(meeting["duration_seconds"] or 0, max(s["end"] for s in segments))
    )
    left = float(playhead.evaluate("p => p.style.left").rstrip("%")) / 100
    assert abs(left - position) < 0.02

    # Keyboard: a lane's first turn is a Tab stop; End moves to its last turn, Enter plays it.
    first_lane_turns = lanes.first.locator(".turn")
    first_lane_turns.first.focus()
    page.keyboard.press("End")
    expect(first_lane_turns.last).to_be_focused()
    page.keyboard.press("Enter")
    first_speaker_turns = [s for s in segments if s["speaker_id"] == speakers[0]["id"]]
    wait_until(
        lambda: (
            recording.evaluate("a => a.currentTime")
            >= max(s["start"] for s in first_speaker_turns) - 0.5
        ),
        timeout=20,
        message="the recording jumped to the focused turn",
    )
    recording.evaluate("a => a.pause()")

    # Each speaker's snippet plays in place, to its end.
    first = speakers[0]
    card = page.locator(f'.speaker[data-speaker-id="{first["id"]}"]')
    card.get_by_role("button", name=re.compile("^Play sample")).click()
    wait_until(
        lambda: card.locator("audio.snippet").evaluate("a => a.ended"),
        timeout=60,
        message="the snippet played to its end",
    )

    # Rename inline; the name is the server's, so it is still there after a reload.
    card.get_by_role("button", name=re.compile("^Rename")).click()
    assert_accessible(page, "the rename form")
    card.get_by_label(re.compile("^Name for")).fill("Dana Scully")
    card.get_by_label(re.compile("^Name for")).press("Enter")
    expect(card.get_by_role("heading", level=3)).to_have_text("Dana Scully")
    page.reload()
    card = page.locator(f'.speaker[data-speaker-id="{first["id"]}"]')
    expect(card.get_by_role("heading", level=3)).to_have_text("Dana Scully")
    expect(lanes.first.locator(".lane-name")).to_have_text("Dana Scully")
    with served.api() as api:
        renamed = api.get(f"/api/meetings/{meeting_id}").json()["speakers"]
    assert [s["name"] for s in renamed if s["id"] == first["id"]] == ["Dana Scully"]

    # The RTTM download is the server's RTTM.
    with page.expect_download() as download:
        page.get_by_role("button", name="Download RTTM").click()
    assert download.value.suggested_filename == "Quarterly-review.rttm"
    assert Path(download.value.path()).read_text() == rttm

    # The page as processed by the tiny models (the README's picture is taken with known
    # turns instead, test_web_page_known_turns.py), then the same page at phone width.
    page.screenshot(path=tmp_path / "meeting-page.png", full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    expect(lanes.first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=tmp_path / "meeting-page-phone.png", full_page=True)

    # Delete, after confirming; the meeting is gone from the list and from the API.
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(title)
    dialog.get_by_role("button", name="Delete meeting").click()
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()
    expect(page.locator(".meeting-row", has_text=title)).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    with served.api() as api:
        assert api.get(f"/api/meetings/{meeting_id}").status_code == 404


def test_a_wrong_token_is_refused_in_plain_words_and_the_right_one_lasts_the_tab(
    page: Page, served_ivrimeet: ServedIvrimeet
) -> None:
    page.goto(served_ivrimeet.url + "/")
    expect(page.get_by_label("API token")).to_be_focused()
    assert_accessible(page, "the sign-in form")
    page.get_by_label("API token").fill("not-the-token")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That token was not accepted. Check it and try again."
    )
    page.get_by_label("API token").fill(served_ivrimeet.token)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()
    expect(page.get_by_label("API token")).to_be_hidden()
    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("API token")).to_be_visible()


def test_a_text_file_dropped_on_the_page_is_refused_as_not_audio(
    page: Page, served_ivrimeet: ServedIvrimeet
) -> None:
    before = meeting_count(served_ivrimeet)
    sign_in(page, served_ivrimeet)
    minutes = b"Minutes of the meeting\n\n1. Numbers\n2. Hiring\n" * 40
    drop_file(page, "#drop-zone", "minutes.mp3", minutes, "audio/mpeg")
    expect(page.locator("#upload-message")).to_have_text(
        "The server cannot read this file as audio or video. "
        "Choose a recording such as MP3, WAV, M4A, Ogg, WebM or MP4."
    )
    assert meeting_count(served_ivrimeet) == before


def test_a_file_over_the_upload_limit_is_refused_before_a_byte_is_sent(
    page: Page, served_ivrimeet: ServedIvrimeet, tmp_path: Path
) -> None:
    large = silent_wav(tmp_path / "long.wav", MAX_UPLOAD_BYTES + 1024)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    sign_in(page, served_ivrimeet)
    page.locator("#file-input").set_input_files(large)
    expect(page.locator("#upload-message")).to_have_text(
        "This file is too large for the server (the limit is 6 MiB). "
        "Trim or compress the recording and try again."
    )
    assert posts == []


def test_upload_progress_shows_bytes_and_speed_and_cancel_leaves_nothing_behind(
    page: Page, served_ivrimeet: ServedIvrimeet, two_voice_recordings: TwoVoiceRecording
) -> None:
    before = meeting_count(served_ivrimeet)
    sign_in(page, served_ivrimeet)
    # Slow the upload down to ~200 kB/s so that it is still running when we look.
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 200_000},
    )
    size = two_voice_recordings.wav.stat().st_size
    page.locator("#file-input").set_input_files(two_voice_recordings.wav)

    stats = page.locator("#upload-stats")
    expect(stats).to_contain_text(re.compile(r"kB/s|MB/s"))
    expect(stats).to_contain_text(re.compile(r"of 1\.\d MB"))
    bar = page.locator("#upload-bar")
    sent = bar.evaluate("b => b.value")
    assert 0 < sent < bar.evaluate("b => b.max") == size

    page.get_by_role("button", name="Cancel upload").click()
    expect(page.locator("#upload-message")).to_have_text("Upload cancelled.")
    expect(page.locator("#upload-progress")).to_be_hidden()
    wait_until(lambda: not recording_objects(served_ivrimeet), timeout=20, message="no object left")
    assert meeting_count(served_ivrimeet) == before


def test_a_server_without_a_token_opens_straight_to_the_meetings(
    chromium: Any, api_settings: SettingsFactory
) -> None:
    with (
        run_api(api_settings(ivrimeet_api_token=None)) as api,
        watched_page(chromium, api.url) as page,
    ):
        page.goto(api.url + "/")
        expect(page.get_by_role("heading", name="Meetings", exact=True)).to_be_visible()
        expect(page.get_by_label("API token")).to_be_hidden()
        expect(page.get_by_role("button", name="Forget token")).to_be_hidden()
