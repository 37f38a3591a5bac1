"""``ivrimeet serve`` and ``ivrimeet worker`` as child processes, configured by environment.

``ivrimeet_env(...)`` builds a child environment from scratch (nothing of the
developer's AWS/HF/ivrimeet configuration leaks in); ``serve(...)`` and
``worker(...)`` start the commands and wait until they are ready: ``serve`` until
``/healthz`` answers, ``worker`` until it logs ``worker.started``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.process import RunningProcess, free_port, run_server
from tests.servers.s3 import S3Server
from tests.waiting import wait_until

_SCRUBBED = ("AWS_", "S3_", "HF_", "HUGGING_FACE", "IVRIMEET_", "DATABASE_URL", "REDIS_URL")


def executable() -> str:
    path = shutil.which("ivrimeet")
    assert path, "the ivrimeet command is not installed: pip install -e '.[ml,dev]'"
    return path


def ivrimeet_env(
    root: Path,
    *,
    token: str,
    s3: S3Server | None = None,
    bucket: str | None = None,
    hub: StandInHub | None = None,
    pipeline: str | None = None,
    encoder: str | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment for an ivrimeet child: data under ``root``, S3 and the Hub stand-in if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "IVRIMEET_API_TOKEN": token,
            "IVRIMEET_DATA_DIR": str(root / "data"),
            "IVRIMEET_TMP_DIR": str(root / "tmp"),
            "HF_HOME": str(root / "hf-home"),
            "PYANNOTE_METRICS_ENABLED": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(root / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(root / "no-aws-credentials"),
        }
    )
    if s3 is not None:
        assert bucket is not None
        env.update(
            {
                "S3_BUCKET": bucket,
                "S3_REGION": s3.region,
                "S3_ENDPOINT_URL": s3.endpoint_url,
                "AWS_ACCESS_KEY_ID": s3.access_key,
                "AWS_SECRET_ACCESS_KEY": s3.secret_key,
            }
        )
    if hub is not None:
        env.update({"HF_TOKEN": TEST_TOKEN, **hub.client_env()})
    if pipeline:
        env["DIARIZATION_PIPELINE"] = pipeline
    if encoder:
        env["EMBEDDING_MODEL"] = encoder
    env.update(extra)
    return env


@contextlib.contextmanager
def serve(
    env: Mapping[str, str], cwd: Path, *args: str, name: str = "ivrimeet-serve"
) -> Iterator[tuple[str, RunningProcess]]:
    """``ivrimeet serve`` on a free port; yields its base URL and process."""
    port = free_port()

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    argv = [executable(), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    with run_server(argv, port, env=env, ready=healthy, timeout=90, name=name, cwd=cwd) as proc:
        yield f"http://127.0.0.1:{port}", proc


@contextlib.contextmanager
def worker(
    env: Mapping[str, str], cwd: Path, *args: str, name: str = "ivrimeet-worker"
) -> Iterator[RunningProcess]:
    """``ivrimeet worker``, ready once it has logged ``worker.started``."""
    argv = [executable(), "worker", *args]
    with run_server(argv, 0, env=env, ready=lambda: True, timeout=90, name=name, cwd=cwd) as proc:

        def started() -> bool:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{proc.log_tail()}")
            return "worker.started" in proc.log_path.read_text(errors="replace")

        wait_until(started, timeout=90, message=f"{name} started")
        yield proc
