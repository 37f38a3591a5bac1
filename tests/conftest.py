"""Shared fixtures: a scrubbed environment, temporary data dirs, real servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.servers.s3",
    "tests.servers.s3_tls",
    "tests.servers.moto_iam",
    "tests.servers.api",
    "tests.servers.databases",
    "tests.servers.hub_fixtures",
    "tests.audio",
]

# Variables that would leak the developer's real configuration into tests.
_SCRUBBED_PREFIXES = ("AWS_", "S3_", "HF_", "HUGGING_FACE", "IVRIMEET_")
_SCRUBBED_NAMES = {
    "DATABASE_URL",
    "REDIS_URL",
    "DIARIZATION_PIPELINE",
    "EMBEDDING_MODEL",
    "MODEL_CACHE_MAX_BYTES",
    "MAX_UPLOAD_BYTES",
    "SNIPPET_SECONDS",
    "PORT",
    "LOG_LEVEL",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
}


@pytest.fixture(autouse=True)
def _scrubbed_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No real credentials, proxies or .env files reach a test."""
    import os

    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES) or name in _SCRUBBED_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "0")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture(autouse=True)
def _restored_logging() -> Iterator[None]:
    """Undo ``configure_logging`` after each test.

    A CLI command run through ``CliRunner`` installs a handler on the runner's
    temporary stderr, which is closed afterwards; left in place, every later log
    line fails with "I/O operation on closed file".
    """
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
