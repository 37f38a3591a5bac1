"""The meeting page of a recording whose speaker turns are known exactly.

The tiny random-weight models cannot diarize, so here the real worker job
(``run_job``: decode, snippets, voiceprints, results, rows) runs with a
"pipeline" that answers the turns the generated two-voice recording was made
of, and a pitch-histogram "encoder" that tells the low voice from the high one.
That checks what the random models cannot: that the timeline draws each turn
where it is, and that a name given in one meeting is suggested in the next.
It also takes the README's picture of the page (``docs/meeting-page.png``).
"""

from __future__ import annotations

import os
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from ivrimeet import db
from ivrimeet.processing.models import LoadedModels
from ivrimeet.worker.jobs import JobContext, run_job
from tests.audio import TwoVoiceRecording
from tests.browser.conftest import assert_accessible, watched_page
from tests.browser.known_models import (
    PAUSE_SECONDS,
    KnownModels,
    KnownTurnsPipeline,
    PitchEncoder,
    known_turns,
)
from tests.servers.api import API_TOKEN, ApiServer, SettingsFactory, run_api
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "meeting-page.png"


def process(api: ApiServer, meeting_id: str, models: KnownModels) -> None:
    """What the worker does with a queued meeting, with the known-turns models."""
    context = JobContext(
        database=api.services.database,
        store=api.services.store,
        models=models,  # type: ignore[arg-type]  # duck-typed ModelHolder
        snippet_seconds=15.0,
        worker_name="known-turns",
    )
    run_job(context, meeting_id, retries_left=0)
    assert db.get_meeting(api.services.database, meeting_id).status == "done"


def test_the_timeline_draws_each_known_turn_where_it_is_and_a_named_voice_is_recognised(
    chromium: Any,
    api_settings: SettingsFactory,
    two_voice_recordings: TwoVoiceRecording,
    tmp_path: Path,
) -> None:
    turns = known_turns(tmp_path)
    with wave.open(str(two_voice_recordings.wav)) as audio:
        duration = audio.getnframes() / audio.getframerate()
    # Every line, the last one too, is followed by the pause.
    assert abs(turns[-1][1] + PAUSE_SECONDS - duration) < 0.05, "the turns miss the recording"
    models = KnownModels(LoadedModels(KnownTurnsPipeline(turns), PitchEncoder()))

    with run_api(api_settings()) as api, watched_page(chromium, api.url) as page:
        # An earlier meeting where the low voice was named Dana.
        with api.client() as client:
            earlier = client.post(
                "/api/meetings",
                params={"title": "Weekly sync"},
                content=two_voice_recordings.mp3.read_bytes(),
                headers={"Content-Type": "audio/mpeg"},
            ).json()
            process(api, earlier["id"], models)
            low = next(
                s
                for s in client.get(f"/api/meetings/{earlier['id']}").json()["speakers"]
                if s["label"] == "SPEAKER_00"
            )
            renamed = client.patch(
                f"/api/meetings/{earlier['id']}/speakers/{low['id']}", json={"name": "Dana"}
            )
            assert renamed.status_code == 200, renamed.text

        # This meeting: uploaded through the page, then processed.
        page.goto(api.url + "/")
        page.get_by_label("API token").fill(API_TOKEN)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Title").fill("Quarterly review")
        page.locator("#file-input").set_input_files(two_voice_recordings.mp3)
        row = page.locator(".meeting-row", has_text="Quarterly review")
        expect(row).to_have_attribute("data-status", "queued")
        meeting_id = row.get_attribute("data-meeting-id")
        assert meeting_id
        process(api, meeting_id, models)
        expect(row).to_have_attribute("data-status", "done")
        row.get_by_role("link", name="Quarterly review").click()

        # One lane per voice, each turn drawn at its own time.
        lanes = page.locator("#timeline .lane:not(.axis-row)")
        expect(lanes).to_have_count(2)
        expect(page.locator("#timeline .turn")).to_have_count(len(turns))
        for lane, label in zip(lanes.all(), ("SPEAKER_00", "SPEAKER_01"), strict=True):
            own = [(start, end) for start, end, who in turns if who == label]
            drawn = [
                (float(left.rstrip("%")), float(width.rstrip("%")))
                for left, width in lane.locator(".turn").evaluate_all(
                    "turns => turns.map(t => [t.style.left, t.style.width])"
                )
            ]
            expected = [(100 * s / duration, 100 * (e - s) / duration) for s, e in own]
            assert np.allclose(drawn, expected, atol=0.5), (label, drawn, expected)

        # The low voice is recognised from the earlier meeting; the high one gets a name here.
        low_card = page.locator(".speaker").nth(0)
        expect(low_card.locator(".suggestion")).to_contain_text("Sounds like Dana")
        expect(page.locator(".speaker").nth(1).locator(".suggestion")).to_have_count(0)
        high_card = page.locator(".speaker").nth(1)
        high_card.get_by_role("button", name="Rename Speaker 2").click()
        high_card.get_by_label("Name for Speaker 2").fill("Sam")
        high_card.get_by_label("Name for Speaker 2").press("Enter")
        expect(high_card.get_by_role("heading", level=3)).to_have_text("Sam")
        assert_accessible(page, "the meeting page with a suggestion")

        # Keyboard: Right to the speaker's next turn, Down to the other speaker's nearest turn.
        low_turns = [t for t in turns if t[2] == "SPEAKER_00"]
        high_turns = [t for t in turns if t[2] == "SPEAKER_01"]
        nearest = min(range(len(high_turns)), key=lambda i: abs(high_turns[i][0] - low_turns[1][0]))
        lanes.nth(0).locator(".turn").first.focus()
        page.keyboard.press("ArrowRight")
        expect(lanes.nth(0).locator(".turn").nth(1)).to_be_focused()
        page.keyboard.press("ArrowDown")
        expect(lanes.nth(1).locator(".turn").nth(nearest)).to_be_focused()
        expect(lanes.nth(1).locator(".turn").nth(nearest)).to_have_attribute("tabindex", "0")
        page.keyboard.press("Enter")
        recording = page.locator("#recording")
        wait_until(
            lambda: recording.evaluate("a => a.currentTime") >= high_turns[nearest][0],
            timeout=20,
            message="Enter plays from the focused turn",
        )
        recording.evaluate("a => a.pause()")

        # Playing from the fourth turn; the picture for the README.
        page.locator("#timeline .turn").nth(3).click()
        wait_until(
            lambda: recording.evaluate("a => !a.paused && a.currentTime > 0"),
            timeout=20,
            message="the recording plays",
        )
        recording.evaluate(f"a => {{ a.pause(); a.currentTime = {turns[3][0] + 2.5}; }}")
        wait_until(lambda: page.locator(".turn.active").count() == 1, message="a turn is active")
        page.mouse.move(0, 0)
        page.screenshot(path=tmp_path / "meeting-page.png", full_page=True)
        if not SCREENSHOT.exists() or os.environ.get("UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(exist_ok=True)
            SCREENSHOT.write_bytes((tmp_path / "meeting-page.png").read_bytes())

        # The same page at phone width: nothing wider than the screen.
        page.set_viewport_size({"width": 375, "height": 800})
        expect(lanes.first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=tmp_path / "meeting-page-phone.png", full_page=True)
