"""``ivrimeet models pull``: the kind a pull stores is predictable, a wrong stored kind is named.

The kind comes from the repo's files (asked of the Hub stand-in), not from
whether ``DIARIZATION_PIPELINE`` happened to be set; a repo stored as a closure
that lacks what the needed loader reads is an error naming the commands to run,
never "already in ...".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli.main import app
from tests.hubrepos import PIPELINE, SAFETENSORS, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub


@pytest.fixture
def unconfigured(hub: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy host before DIARIZATION_PIPELINE / EMBEDDING_MODEL name the test repos."""
    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IVRIMEET_TMP_DIR", str(tmp_path / "tmp"))


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["models", *args])


def _kind_listed(repo: str) -> str:
    listed = _run("list", repo)
    assert listed.exit_code == 0, listed.output
    # The second line of a model's block: "  KIND, N files, N bytes, created ...".
    return next(k for k in ("pipeline", "encoder", "snapshot") if f"  {k}, " in listed.output)


@pytest.mark.slow
def test_auto_pull_stores_the_kind_the_repo_calls_for_whatever_is_configured(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for repo in (PIPELINE, SPEECHBRAIN_ECAPA, SAFETENSORS):
        pulled = _run("pull", repo, "--no-progress")
        assert pulled.exit_code == 0, pulled.output
    assert [_kind_listed(r) for r in (PIPELINE, SPEECHBRAIN_ECAPA, SAFETENSORS)] == [
        "pipeline",
        "encoder",
        "snapshot",
    ]
    monkeypatch.setenv("DIARIZATION_PIPELINE", PIPELINE)
    again = _run("pull", PIPELINE, "--no-progress")
    assert again.exit_code == 0 and "already in" in again.output, again.output


def test_pull_of_a_pipeline_stored_as_a_snapshot_says_what_to_run(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, hub: StandInHub
) -> None:
    assert _run("pull", PIPELINE, "--kind", "snapshot", "--no-progress").exit_code == 0
    monkeypatch.setenv("DIARIZATION_PIPELINE", PIPELINE)

    result = _run("pull", PIPELINE, "--no-progress")

    assert result.exit_code != 0
    assert "already in" not in result.output
    commit = hub.commit(PIPELINE)
    assert "stored as a 'snapshot' closure" in result.output
    assert f"ivrimeet models rm {PIPELINE}@{commit}" in result.output
    assert f"ivrimeet models pull {PIPELINE} --kind pipeline" in result.output
    assert _run("pull", PIPELINE, "--kind", "snapshot", "--no-progress").exit_code == 0
