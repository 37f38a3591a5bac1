"""``ivrimeet models …`` through Typer's CliRunner (and once as a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli.main import app
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects import LocalStore
from tests.hubrepos import PIPELINE, SAFETENSORS, SPEECHBRAIN_ECAPA
from tests.integration.model_store_support import REPO_ROOT
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import S3Server

LAYOUT = BucketLayout("models/")


@pytest.fixture
def cli_env(hub: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
        "IVRIMEET_TMP_DIR": str(tmp_path / "tmp"),
        "DIARIZATION_PIPELINE": PIPELINE,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["models", *args])


def _bucket(cli_env: dict[str, str]) -> LocalStore:
    return LocalStore(Path(cli_env["IVRIMEET_DATA_DIR"]) / "objects")


def test_pull_stores_a_model_once_and_list_shows_it(
    cli_env: dict[str, str], hub: StandInHub
) -> None:
    first = _run("pull", SAFETENSORS, "--no-progress")
    second = _run("pull", SAFETENSORS, "--no-progress")
    listed = _run("list")

    assert first.exit_code == 0, first.output
    assert "stored from Hugging Face" in first.output
    assert second.exit_code == 0 and "already in" in second.output
    commit = hub.commit(SAFETENSORS)
    assert SAFETENSORS in listed.output and "main" in listed.output and commit in listed.output
    assert TEST_TOKEN not in first.output + second.output + listed.output


def test_verify_passes_then_fails_with_integrity_exit_code_on_a_flipped_byte(
    cli_env: dict[str, str], hub: StandInHub
) -> None:
    assert _run("pull", SAFETENSORS, "--no-progress").exit_code == 0
    assert _run("verify", "--no-progress").exit_code == 0
    bucket = _bucket(cli_env)
    manifest = json.loads(bucket.get_bytes(LAYOUT.manifest(SAFETENSORS, hub.commit(SAFETENSORS))))
    weights = next(f for f in manifest["files"] if f["path"] == "model.safetensors")
    key = LAYOUT.blob(weights["sha256"])
    body = bytearray(bucket.get_bytes(key))
    body[0] ^= 1
    bucket.put(key, bytes(body))

    result = _run("verify", "--no-progress")

    assert result.exit_code == 7, result.output
    assert key in result.output and "What to do" in result.output


def test_rm_then_gc_frees_blobs_and_dry_run_deletes_nothing(
    cli_env: dict[str, str], hub: StandInHub
) -> None:
    assert _run("pull", SAFETENSORS, "--no-progress").exit_code == 0
    bucket = _bucket(cli_env)
    blobs = [i.key for i in bucket.list(LAYOUT.blobs_prefix)]

    removed = _run("rm", SAFETENSORS, "--yes")
    young = _run("gc")
    dry = _run("gc", "--dry-run", "--grace-hours", "0")
    still = [i.key for i in bucket.list(LAYOUT.blobs_prefix)]
    collected = _run("gc", "--grace-hours", "0")

    assert removed.exit_code == 0 and "removed" in removed.output
    assert "No models stored" in _run("list").output
    assert "deleted 0 blobs" in young.output and f"kept {len(blobs)}" in young.output
    assert f"would delete {len(blobs)} blobs" in dry.output
    assert still == blobs
    assert collected.exit_code == 0 and f"deleted {len(blobs)} blobs" in collected.output
    assert list(bucket.list(LAYOUT.blobs_prefix)) == []


def test_gc_keeps_blobs_a_manifest_references(cli_env: dict[str, str]) -> None:
    assert _run("pull", SAFETENSORS, "--no-progress").exit_code == 0

    result = _run("gc", "--grace-hours", "0")

    assert "deleted 0 blobs" in result.output
    assert _run("verify", "--no-progress").exit_code == 0


def test_pull_with_hub_down_and_empty_bucket_exits_with_unavailable_code(
    cli_env: dict[str, str], hub: StandInHub
) -> None:
    hub.outage = True

    result = _run("pull", SAFETENSORS, "--no-progress")

    assert result.exit_code == 9, result.output
    assert "Error: Cannot load" in result.output
    assert "Traceback" not in result.output and TEST_TOKEN not in result.output


def test_rm_of_hostile_repo_id_is_refused(cli_env: dict[str, str]) -> None:
    result = _run("rm", "../../etc@passwd", "--yes")

    assert result.exit_code == 2
    assert "Refusing repo id" in result.output


@pytest.mark.slow
def test_models_warm_in_a_fresh_process_loads_from_s3_without_hub(
    cli_env: dict[str, str], hub: StandInHub, moto_s3: S3Server, tmp_path: Path
) -> None:
    bucket = moto_s3.new_bucket("warm")
    env = {
        **os.environ,
        **cli_env,
        "S3_BUCKET": bucket.bucket,
        "S3_ENDPOINT_URL": moto_s3.endpoint_url,
        "S3_REGION": moto_s3.region,
        "AWS_ACCESS_KEY_ID": moto_s3.access_key,
        "AWS_SECRET_ACCESS_KEY": moto_s3.secret_key,
        "PYTHONPATH": str(REPO_ROOT),
    }
    script = "from ivrimeet.cli.main import main; main()"
    command = [sys.executable, "-c", script, "models", "warm", "--no-progress"]
    first = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("Hugging Face") == 2
    hub.reset()
    hub.outage = True

    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True)

    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.count("bucket") == 2
    assert hub.requests == []
    loaded = [line for line in second.stderr.splitlines() if "model.loaded" in line]
    assert len(loaded) == 2
    assert all("from the bucket" in line and "origin=bucket" in line for line in loaded)
    printed = first.stdout + first.stderr + second.stdout + second.stderr
    assert TEST_TOKEN not in printed and moto_s3.secret_key not in printed
    assert list(Path(cli_env["IVRIMEET_TMP_DIR"]).iterdir()) == []


def test_refresh_stores_the_new_commit_beside_the_pinned_one(
    cli_env: dict[str, str], hub: StandInHub, hub_repo_folders: dict[str, Path], tmp_path: Path
) -> None:
    import shutil
    import uuid

    repo = f"ivrimeet-test/refresh-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "repo"
    shutil.copytree(hub_repo_folders[SAFETENSORS], folder)
    old = hub.publish(repo, folder)
    assert _run("pull", repo, "--no-progress").exit_code == 0
    (folder / "config.json").write_text('{"changed": true}\n')
    new = hub.publish(repo, folder)

    pinned = _run("pull", repo, "--no-progress")
    refreshed = _run("pull", repo, "--refresh", "--no-progress")
    listed = _run("list", repo)

    assert old != new
    assert f"-> {old}: already in" in pinned.output
    assert refreshed.exit_code == 0 and f"-> {new}: stored from Hugging Face" in refreshed.output
    assert old in listed.output and new in listed.output
    bucket = _bucket(cli_env)
    assert bucket.get_bytes(LAYOUT.ref(repo, "main")).decode() == new
