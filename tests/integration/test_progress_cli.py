"""``ivrimeet process`` shows the job's progress on stderr and times pyannote's own steps."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivrimeet.cli.main import app
from tests.audio import TwoVoiceRecording
from tests.integration.cli_support import process_env
from tests.servers.hub import StandInHub

pytestmark = pytest.mark.slow


def test_process_prints_progress_lines_from_decode_to_done_when_not_a_terminal(
    hub_client: StandInHub, tmp_path: Path, two_voice_recordings: TwoVoiceRecording
) -> None:
    result = CliRunner().invoke(
        app,
        ["process", str(two_voice_recordings.short_wav), "--json"],
        env=process_env(hub_client, tmp_path),
    )

    assert result.exit_code == 0, result.output
    reports = re.findall(r"^progress step=(\w+) percent=(\d+)$", result.stderr, re.MULTILINE)
    steps = [step for step, _ in reports]
    percents = [int(percent) for _, percent in reports]
    assert steps[0] == "decode" and steps[-1] == "done"
    for step in ("segmentation", "embeddings", "snippets", "voiceprints", "results"):
        assert step in steps
    assert percents == sorted(percents) and percents[-1] == 100
    timings = json.loads(result.stdout)["timings"]
    assert set(timings["diarize_steps"]) == {"segmentation", "embeddings", "clustering"}
    # Each step is rounded to the millisecond in the JSON; the diarize total is not.
    assert sum(timings["diarize_steps"].values()) <= timings["steps"]["diarize"] + 0.002
