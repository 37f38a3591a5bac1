"""The "Disk Still Filling Up" answer: one ``disk.low`` line naming free space and threshold.

A real load (``ivrimeet models pull`` of a small repo from the Hub stand-in into
the folder store) with ``DISK_WARNING_BYTES`` above the free space logs the line
once; with the threshold at 0 it never appears.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli.main import app
from tests.hubrepos import SAFETENSORS
from tests.servers.hub import TEST_TOKEN, StandInHub

DISK_LOW = re.compile(r"disk\.low path=(\S+) free_bytes=(\d+) threshold_bytes=(\d+)")


@pytest.fixture
def tmp_models(hub: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IVRIMEET_TMP_DIR", str(tmp))
    monkeypatch.delenv("S3_BUCKET", raising=False)
    return tmp


def _pull(threshold: int) -> Result:
    return CliRunner().invoke(
        app,
        ["models", "pull", SAFETENSORS, "--no-progress"],
        env={"DISK_WARNING_BYTES": str(threshold)},
    )


def test_a_load_with_free_space_under_the_threshold_logs_one_disk_low_line(
    tmp_models: Path,
) -> None:
    usage = shutil.disk_usage(tmp_models)
    threshold = usage.total + 1  # more than the disk holds: free space is always below it

    result = _pull(threshold)

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "disk.low" in line]
    assert len(lines) == 1, result.output
    found = DISK_LOW.search(lines[0])
    assert found is not None, lines[0]
    path, free, logged_threshold = found.group(1), int(found.group(2)), int(found.group(3))
    assert Path(path) == tmp_models
    assert 0 < free <= usage.total
    assert logged_threshold == threshold
    assert "WARNING" in lines[0]


def test_a_load_with_enough_free_space_logs_no_disk_low_line(tmp_models: Path) -> None:
    result = _pull(0)

    assert result.exit_code == 0, result.output
    assert "stored from Hugging Face" in result.output
    assert "disk.low" not in result.output
