"""The tiny repos the Hub stand-in serves: ids, contents, gating, how to build and publish."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tests.hubrepos.pipelines import write_community_config, write_pipeline_config
from tests.hubrepos.plda import write_plda
from tests.hubrepos.safetensors_model import write_safetensors_model
from tests.hubrepos.segmentation import write_segmentation
from tests.hubrepos.speechbrain_ecapa import write_speechbrain_ecapa
from tests.hubrepos.wespeaker import WESPEAKER_DIMENSION, write_wespeaker

__all__ = [
    "COMMUNITY",
    "GATED",
    "PIPELINE",
    "PIPELINE_CLOSURES",
    "PIPELINE_SPEECHBRAIN",
    "PUBLISHED_PIPELINE",
    "PUBLISHED_SEGMENTATION",
    "PUBLISHED_SPEECHBRAIN",
    "PUBLISHED_WESPEAKER",
    "REPOS",
    "SAFETENSORS",
    "SEGMENTATION",
    "SPEECHBRAIN_ECAPA",
    "WESPEAKER",
    "TinyRepo",
    "build_repos",
    "publish_repos",
]

# Ids of our own test repos. pyannote picks an embedding backend from the id:
# "pyannote" -> pyannote Model, else "speechbrain" -> SpeechBrain, else
# "wespeaker" -> ONNX (needs onnxruntime). Hence "pyannote-" in the WeSpeaker id.
SEGMENTATION = "ivrimeet-test/segmentation-tiny"
WESPEAKER = "ivrimeet-test/pyannote-wespeaker-resnet34-tiny"
SPEECHBRAIN_ECAPA = "ivrimeet-test/speechbrain-ecapa-tiny"
PIPELINE = "ivrimeet-test/speaker-diarization-tiny"
PIPELINE_SPEECHBRAIN = "ivrimeet-test/speaker-diarization-speechbrain-tiny"
SAFETENSORS = "ivrimeet-test/safetensors-tiny"

# Tiny repos under the published ids. pyannote.audio 4.0.7 itself reaches for
# COMMUNITY (the default PLDA of any pipeline whose config names none, such as
# 3.1), and the PUBLISHED_* ids are ivrimeet's defaults in settings.
COMMUNITY = "pyannote/speaker-diarization-community-1"
PUBLISHED_PIPELINE = "pyannote/speaker-diarization-3.1"
PUBLISHED_SEGMENTATION = "pyannote/segmentation-3.0"
PUBLISHED_WESPEAKER = "pyannote/wespeaker-voxceleb-resnet34-LM"
PUBLISHED_SPEECHBRAIN = "speechbrain/spkrec-ecapa-voxceleb"

#: Repos that need a token, as on the real Hub (the pyannote pipelines and segmentation are gated).
GATED = frozenset({COMMUNITY, PUBLISHED_PIPELINE, PUBLISHED_SEGMENTATION})

#: Every repo that ``Pipeline.from_pretrained(pipeline)`` reads files from.
PIPELINE_CLOSURES: dict[str, frozenset[str]] = {
    PIPELINE: frozenset({PIPELINE, SEGMENTATION, WESPEAKER, COMMUNITY}),
    PIPELINE_SPEECHBRAIN: frozenset(
        {PIPELINE_SPEECHBRAIN, SEGMENTATION, SPEECHBRAIN_ECAPA, COMMUNITY}
    ),
    PUBLISHED_PIPELINE: frozenset(
        {PUBLISHED_PIPELINE, PUBLISHED_SEGMENTATION, PUBLISHED_WESPEAKER, COMMUNITY}
    ),
    COMMUNITY: frozenset({COMMUNITY}),
}


class _Publisher(Protocol):
    def publish(self, repo_id: str, folder: Path, *, gated: bool = False) -> str: ...


@dataclass(frozen=True)
class TinyRepo:
    """One repo to serve: its id, a one-line description for its model card, and its writer."""

    repo_id: str
    description: str
    write: Callable[[Path], None]

    @property
    def gated(self) -> bool:
        """Whether the stand-in should ask for a token, as the real Hub does for this id."""
        return self.repo_id in GATED


def _community(folder: Path) -> None:
    write_community_config(folder)
    write_segmentation(folder / "segmentation")
    write_wespeaker(folder / "embedding")
    write_plda(folder / "plda", embedding_dimension=WESPEAKER_DIMENSION)


REPOS: tuple[TinyRepo, ...] = (
    TinyRepo(SEGMENTATION, "PyanNet segmentation, powerset 3 speakers", write_segmentation),
    TinyRepo(WESPEAKER, "WeSpeaker ResNet34 embedding (pyannote checkpoint)", write_wespeaker),
    TinyRepo(
        SPEECHBRAIN_ECAPA,
        "SpeechBrain ECAPA-TDNN speaker encoder",
        lambda folder: write_speechbrain_ecapa(folder, SPEECHBRAIN_ECAPA),
    ),
    TinyRepo(
        PIPELINE,
        "diarization pipeline like 3.1: segmentation + WeSpeaker, PLDA from community-1",
        lambda folder: write_pipeline_config(
            folder, segmentation=SEGMENTATION, embedding=WESPEAKER
        ),
    ),
    TinyRepo(
        PIPELINE_SPEECHBRAIN,
        "diarization pipeline with a SpeechBrain embedding",
        lambda folder: write_pipeline_config(
            folder, segmentation=SEGMENTATION, embedding=SPEECHBRAIN_ECAPA
        ),
    ),
    TinyRepo(SAFETENSORS, "config.json + model.safetensors", write_safetensors_model),
    TinyRepo(COMMUNITY, "community-1 layout: segmentation/, embedding/, plda/", _community),
    TinyRepo(PUBLISHED_SEGMENTATION, "as segmentation-3.0", write_segmentation),
    TinyRepo(PUBLISHED_WESPEAKER, "as wespeaker-voxceleb-resnet34-LM", write_wespeaker),
    TinyRepo(
        PUBLISHED_PIPELINE,
        "as speaker-diarization-3.1",
        lambda folder: write_pipeline_config(
            folder, segmentation=PUBLISHED_SEGMENTATION, embedding=PUBLISHED_WESPEAKER
        ),
    ),
    TinyRepo(
        PUBLISHED_SPEECHBRAIN,
        "as spkrec-ecapa-voxceleb",
        lambda folder: write_speechbrain_ecapa(folder, PUBLISHED_SPEECHBRAIN),
    ),
)


def build_repos(workdir: Path) -> dict[str, Path]:
    """Write every repo of ``REPOS`` under ``workdir/<org>/<name>/``; return repo id -> folder."""
    folders: dict[str, Path] = {}
    for repo in REPOS:
        folder = workdir / repo.repo_id
        repo.write(folder)
        (folder / "README.md").write_text(
            f"# {repo.repo_id}\n\nTiny random-weight test model: {repo.description}.\n"
            "Built by ivrimeet's tests for the Hub stand-in; its outputs mean nothing.\n"
        )
        folders[repo.repo_id] = folder
    return folders


def publish_repos(hub: _Publisher, folders: dict[str, Path]) -> dict[str, str]:
    """Publish each built folder on ``hub`` (gated as on the real Hub); return repo id -> commit."""
    gated = {repo.repo_id: repo.gated for repo in REPOS}
    return {
        repo_id: hub.publish(repo_id, folder, gated=gated.get(repo_id, False))
        for repo_id, folder in folders.items()
    }
