"""Diarization pipeline repos: a ``config.yaml`` naming models by repo id or ``$model/...``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["write_community_config", "write_pipeline_config"]


def write_pipeline_config(folder: Path, *, segmentation: str, embedding: str) -> None:
    """Write ``folder/config.yaml`` like the published ``pyannote/speaker-diarization-3.1``.

    It names ``segmentation`` and ``embedding`` by repo id and, like 3.1, names no
    PLDA: pyannote.audio 4 then fetches it from its default,
    ``pyannote/speaker-diarization-community-1`` (subfolder ``plda``), so loading
    this pipeline reads three more repos than its own.
    """
    _write(
        folder,
        {
            "version": "3.1.0",
            "pipeline": {
                "name": "pyannote.audio.pipelines.SpeakerDiarization",
                "params": {
                    "clustering": "AgglomerativeClustering",
                    "embedding": embedding,
                    "embedding_batch_size": 32,
                    "embedding_exclude_overlap": True,
                    "segmentation": segmentation,
                    "segmentation_batch_size": 32,
                },
            },
            "params": {
                "clustering": {
                    "method": "centroid",
                    "min_cluster_size": 12,
                    "threshold": 0.7045654963945799,
                },
                "segmentation": {"min_duration_off": 0.0},
            },
        },
    )


def write_community_config(folder: Path) -> None:
    """Write ``folder/config.yaml`` like ``pyannote/speaker-diarization-community-1``.

    Every model lives in the same repo, named as ``$model/<subfolder>``:
    ``segmentation/``, ``embedding/`` and ``plda/``, clustered with VBx.
    """
    _write(
        folder,
        {
            "dependencies": {"pyannote.audio": "4.0.0"},
            "pipeline": {
                "name": "pyannote.audio.pipelines.SpeakerDiarization",
                "params": {
                    "clustering": "VBxClustering",
                    "embedding": "$model/embedding",
                    "embedding_batch_size": 32,
                    "embedding_exclude_overlap": True,
                    "plda": "$model/plda",
                    "segmentation": "$model/segmentation",
                    "segmentation_batch_size": 32,
                },
            },
            "params": {
                "clustering": {"Fa": 0.07, "Fb": 0.8, "threshold": 0.6},
                "segmentation": {"min_duration_off": 0.0},
            },
        },
    )


def _write(folder: Path, config: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
