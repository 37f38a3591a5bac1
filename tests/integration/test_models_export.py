"""``ivrimeet models export`` through the CLI against moto and rclone: a cache others can read.

The model is stored by the real ``models pull`` (from the stand-in Hub), then
exported; ``huggingface_hub`` and ``safetensors`` read the export in a fresh
process with ``HF_HUB_OFFLINE=1``. Failures (corrupt blob, model not stored,
bad target, full disk) must exit non-zero with the error's message and leave
nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ivrimeet.cli.main import app
from ivrimeet.models.blobs import LocalBlob, upload_blobs
from ivrimeet.models.layout import BucketLayout
from ivrimeet.models.manifest import Manifest, ManifestFile, ManifestRef
from ivrimeet.objects import S3Connection, S3Store
from tests.faults.diskfull import small_filesystem
from tests.hubrepos import SAFETENSORS
from tests.hubrepos.safetensors_model import SAFETENSORS_SHAPES
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import S3Server

LAYOUT = BucketLayout("models/")


@pytest.fixture(params=["moto_s3", "rclone_s3"])
def server(request: pytest.FixtureRequest) -> S3Server:
    found: S3Server = request.getfixturevalue(request.param)
    return found


@pytest.fixture
def bucket(
    server: S3Server, hub: StandInHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> S3Connection:
    """A fresh bucket; the CLI's environment points at it and at the stand-in Hub."""
    connection = server.new_bucket("export")
    env = {
        "S3_BUCKET": connection.bucket,
        "S3_ENDPOINT_URL": server.endpoint_url,
        "S3_REGION": server.region,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
        "IVRIMEET_TMP_DIR": str(tmp_path / "tmp"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return connection


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["models", *args])


def _pulled(hub: StandInHub) -> str:
    result = _run("pull", SAFETENSORS, "--no-progress")
    assert result.exit_code == 0, result.output
    hub.reset()
    return hub.commit(SAFETENSORS)


def _read_offline(cache: Path, repo: str) -> subprocess.CompletedProcess[str]:
    """In a fresh process, offline: hf_hub_download + safetensors read the exported cache."""
    script = textwrap.dedent(
        f"""
        import json
        from huggingface_hub import hf_hub_download
        from safetensors import safe_open

        weights = hf_hub_download({repo!r}, "model.safetensors", cache_dir={str(cache)!r})
        config = hf_hub_download({repo!r}, "config.json", cache_dir={str(cache)!r})
        with safe_open(weights, framework="np") as tensors:
            shapes = {{name: list(tensors.get_tensor(name).shape) for name in tensors.keys()}}
        print(json.dumps({{"shapes": shapes, "config": json.load(open(config))}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "AWS_", "S3_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HOME=str(cache / "no-home"))
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )


def _flip_first_byte(server: S3Server, bucket: S3Connection, key: str) -> None:
    client = server.admin_client()
    body = bytearray(client.get_object(Bucket=bucket.bucket, Key=key)["Body"].read())
    body[0] ^= 1
    client.put_object(Bucket=bucket.bucket, Key=key, Body=bytes(body))


def _weights_key(bucket: S3Connection, commit: str) -> str:
    store = S3Store(bucket)
    manifest = json.loads(store.get_bytes(LAYOUT.manifest(SAFETENSORS, commit)))
    weights = next(f for f in manifest["files"] if f["path"] == "model.safetensors")
    return LAYOUT.blob(weights["sha256"])


def test_export_writes_a_cache_that_huggingface_hub_reads_offline(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    commit = _pulled(hub)
    target = tmp_path / "export"

    result = _run("export", SAFETENSORS, str(target), "--no-progress")

    assert result.exit_code == 0, result.output
    assert f"-> {commit}: exported to {target}" in result.output
    assert hub.requests == [], "an export never contacts Hugging Face"
    assert sorted(p.name for p in target.iterdir()) == ["models--ivrimeet-test--safetensors-tiny"]
    repo_dir = target / "models--ivrimeet-test--safetensors-tiny"
    assert (repo_dir / "refs" / "main").read_text() == commit
    for blob in (repo_dir / "blobs").iterdir():
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    assert list((tmp_path / "tmp").iterdir()) == [], "no temporary cache left behind"
    read = _read_offline(target, SAFETENSORS)
    assert read.returncode == 0, read.stderr[-3000:]
    loaded = json.loads(read.stdout)
    assert loaded["shapes"] == {k: list(v) for k, v in SAFETENSORS_SHAPES.items()}
    assert loaded["config"]["model_type"] == "ivrimeet-tiny"
    assert TEST_TOKEN not in result.output


def test_export_as_a_real_process_takes_the_lean_entry_point_with_the_same_outcomes(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    """``main()`` serves ``models export`` without building the full app: same result, codes."""
    commit = _pulled(hub)
    script = "from ivrimeet.cli.main import main; main()"

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", script, "models", "export", *args, "--no-progress"]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    done = export(SAFETENSORS, str(tmp_path / "out"))
    missing = export("ivrimeet-test/not-stored", str(tmp_path / "none"))
    heavy = textwrap.dedent(
        f"""
        import sys
        from ivrimeet.cli.main import main
        sys.argv[1:] = ["models", "export", {SAFETENSORS!r}, {str(tmp_path / "again")!r}]
        try:
            main()
        except SystemExit as exit:
            assert not exit.code, exit.code
        heavy = ("sqlalchemy", "fastapi", "huey", "torch", "boto3", "s3transfer",
                 "huggingface_hub", "pyannote", "speechbrain",
                 # Typer 0.29 converts parameters with pydantic (+0.1 s per command)
                 "pydantic",
                 # signing is the standard library's (objects/sigv4.py), explicit keys
                 # need no credential chain
                 "botocore.auth", "botocore.awsrequest", "botocore.credentials", "urllib3",
                 # the object layer's admin tools (botocore.config at import)
                 "ivrimeet.objects.bucket_setup", "ivrimeet.objects.checks",
                 "ivrimeet.objects.iam_policy")
        print(sorted(m for m in heavy if m in sys.modules))
        """
    )
    modules = subprocess.run(
        [sys.executable, "-c", heavy], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert f"-> {commit}: exported to" in done.stdout
    assert _read_offline(tmp_path / "out", SAFETENSORS).returncode == 0
    assert missing.returncode == 4, missing.stderr[-3000:]
    assert missing.stderr.startswith("Error: ") and "Traceback" not in missing.stderr
    assert not (tmp_path / "none").exists()
    assert modules.returncode == 0, modules.stderr[-3000:]
    assert modules.stdout.strip().endswith("[]"), "heavy imports on the export path"


def test_export_at_a_commit_into_an_existing_empty_directory(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    commit = _pulled(hub)
    target = tmp_path / "empty"
    target.mkdir()

    result = _run("export", f"{SAFETENSORS}@{commit}", str(target), "--no-progress")

    assert result.exit_code == 0, result.output
    snapshot = target / "models--ivrimeet-test--safetensors-tiny" / "snapshots" / commit
    assert {"config.json", "model.safetensors"} <= {p.name for p in snapshot.iterdir()}


def test_corrupt_blob_in_the_bucket_fails_the_export_and_leaves_nothing(
    server: S3Server, bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    commit = _pulled(hub)
    key = _weights_key(bucket, commit)
    _flip_first_byte(server, bucket, key)
    fresh, empty = tmp_path / "fresh", tmp_path / "empty"
    empty.mkdir()

    into_fresh = _run("export", SAFETENSORS, str(fresh), "--no-progress")
    into_empty = _run("export", SAFETENSORS, str(empty), "--no-progress")

    for result in (into_fresh, into_empty):
        assert result.exit_code == 7, result.output
        assert "missing or corrupt" in result.output and key in result.output
        assert "Traceback" not in result.output
    assert not fresh.exists(), "a directory the export created is removed again"
    assert list(empty.iterdir()) == [], "an existing directory is left empty"
    assert hub.requests == []


def test_export_of_a_model_not_in_the_bucket_says_to_pull_it_first(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    target = tmp_path / "export"

    result = _run("export", SAFETENSORS, str(target), "--no-progress")

    assert result.exit_code == 4, result.output
    assert "is not stored in" in result.output
    assert f"ivrimeet models pull {SAFETENSORS}" in result.output
    assert not target.exists()
    assert hub.requests == []


def test_export_of_a_revision_not_stored_names_it_in_the_pull_hint(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    _pulled(hub)

    result = _run("export", f"{SAFETENSORS}@v9", str(tmp_path / "export"), "--no-progress")

    assert result.exit_code == 4, result.output
    assert f"models pull {SAFETENSORS} --revision v9" in result.output


@pytest.mark.parametrize("spec", [f"{SAFETENSORS}@../main", "../../etc@main", "a/b/c"])
def test_export_of_a_malformed_repo_or_revision_is_refused(
    bucket: S3Connection, tmp_path: Path, spec: str
) -> None:
    result = _run("export", spec, str(tmp_path / "export"), "--no-progress")

    assert result.exit_code == 2, result.output
    assert "Refusing" in result.output
    assert not (tmp_path / "export").exists()


def test_export_into_a_non_empty_directory_is_refused_and_touches_nothing(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    _pulled(hub)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    result = _run("export", SAFETENSORS, str(target), "--no-progress")

    assert result.exit_code == 5, result.output
    assert "not empty (keep.txt)" in result.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_export_where_no_directory_can_be_made_is_refused(
    bucket: S3Connection, hub: StandInHub, tmp_path: Path
) -> None:
    _pulled(hub)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    under_file = _run("export", SAFETENSORS, str(blocker / "export"), "--no-progress")
    onto_file = _run("export", SAFETENSORS, str(blocker), "--no-progress")

    assert under_file.exit_code == 2, under_file.output
    assert "Cannot export into" in under_file.output
    assert onto_file.exit_code == 2 and "is a file" in onto_file.output
    assert blocker.read_text() == "not a directory"


def test_export_onto_a_disk_too_small_fails_before_fetching(
    server: S3Server, bucket: S3Connection, hub: StandInHub
) -> None:
    if server.name != "moto":
        pytest.skip("the free-space check does not depend on the server")
    _pulled(hub)
    with small_filesystem(16 * 1024 * 1024) as disk:
        target = disk.path / "export"

        result = _run("export", SAFETENSORS, str(target), "--no-progress")

        assert result.exit_code == 8, result.output
        assert "Not enough free disk" in result.output
        assert disk.entries() == []


def test_export_writes_every_repo_of_a_multi_repo_closure(
    server: S3Server, bucket: S3Connection, tmp_path: Path
) -> None:
    """A closure spanning repos (as a pipeline's does): each repo gets its own cache folder."""
    if server.name != "moto":
        pytest.skip("one server is enough for the layout")
    top, other = "ivrimeet-test/top", "ivrimeet-test/shared-part"
    top_commit, other_commit = "1" * 40, "2" * 40
    bodies = {b'{"a": 1}\n': (top, "config.json"), b"\x00weights" * 1000: (other, "w.bin")}
    store = S3Store(bucket)
    files, blobs = [], []
    for body, (repo, path) in bodies.items():
        source = tmp_path / path
        source.write_bytes(body)
        sha = hashlib.sha256(body).hexdigest()
        commit = top_commit if repo == top else other_commit
        files.append(ManifestFile(repo=repo, commit=commit, path=path, size=len(body), sha256=sha))
        blobs.append(LocalBlob(sha, len(body), source))
    upload_blobs(store, LAYOUT, blobs)
    manifest = Manifest(
        repo=top,
        commit=top_commit,
        kind="snapshot",
        files=tuple(files),
        refs=(
            ManifestRef(repo=top, revision="main", commit=top_commit),
            ManifestRef(repo=other, revision="main", commit=other_commit),
        ),
        created="2026-01-01T00:00:00Z",
    )
    store.put(LAYOUT.manifest(top, top_commit), manifest.to_json())
    store.put(LAYOUT.ref(top, "main"), top_commit.encode())
    target = tmp_path / "export"

    result = _run("export", top, str(target), "--no-progress")

    assert result.exit_code == 0, result.output
    assert "(2 repos, 2 files" in result.output
    for body, (repo, path) in bodies.items():
        folder = target / ("models--" + repo.replace("/", "--"))
        commit = top_commit if repo == top else other_commit
        assert (folder / "snapshots" / commit / path).read_bytes() == body
        assert (folder / "refs" / "main").read_text() == commit
