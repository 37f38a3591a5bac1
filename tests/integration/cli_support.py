"""The environment ``ivrimeet process`` runs with in the CLI tests: the Hub stand-in, local data."""

from __future__ import annotations

from pathlib import Path

from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub

__all__ = ["process_env"]


def process_env(hub: StandInHub, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Tiny SpeechBrain pipeline and encoder from ``hub``; data and temp dirs under ``tmp_path``."""
    return {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,
        "DIARIZATION_PIPELINE": PIPELINE_SPEECHBRAIN,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
        "IVRIMEET_TMP_DIR": str(tmp_path),
        **extra,
    }
