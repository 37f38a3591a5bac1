"""Random-weight repos at the published sizes, under the published ids, for timing real work.

Compute cost is set by the architecture, not by the weights, so these models
cost what the published ones cost: the PyanNet of ``pyannote/segmentation-3.0``
(~5.9 MB), ``pyannote/wespeaker-voxceleb-resnet34-LM`` (ResNet34, ~26.6 MB),
``speechbrain/spkrec-ecapa-voxceleb`` (ECAPA-TDNN 1024, ~83 MB + 5.5 MB
classifier), the community-1 PLDA and the 3.1 pipeline config tying them.
Their outputs mean nothing; ids and layouts are the real ones, so pyannote and
SpeechBrain load them through the same code paths.

``build_real_size_repos(workdir)`` writes them (~250 MB, ~30 s on 2 cores);
publish them on a stand-in Hub of their own with ``publish_repos`` (the tiny
repos use the same ids).
"""

from __future__ import annotations

from pathlib import Path

from tests.hubrepos.catalog import (
    COMMUNITY,
    PUBLISHED_PIPELINE,
    PUBLISHED_SEGMENTATION,
    PUBLISHED_SPEECHBRAIN,
    PUBLISHED_WESPEAKER,
    TinyRepo,
)
from tests.hubrepos.pipelines import write_community_config, write_pipeline_config
from tests.hubrepos.plda import write_plda
from tests.hubrepos.segmentation import write_published_segmentation
from tests.hubrepos.speechbrain_ecapa import PUBLISHED_ECAPA, write_speechbrain_ecapa
from tests.hubrepos.wespeaker import WESPEAKER_DIMENSION, write_wespeaker

__all__ = ["REAL_SIZE_REPOS", "build_real_size_repos"]


def _community(folder: Path) -> None:
    write_community_config(folder)
    write_published_segmentation(folder / "segmentation")
    write_wespeaker(folder / "embedding")
    write_plda(folder / "plda", embedding_dimension=WESPEAKER_DIMENSION)


REAL_SIZE_REPOS: tuple[TinyRepo, ...] = (
    TinyRepo(
        PUBLISHED_SEGMENTATION, "PyanNet at segmentation-3.0's size", write_published_segmentation
    ),
    # WeSpeakerResNet34 hard-codes its sizes: the tiny repo's model is already the published size.
    TinyRepo(PUBLISHED_WESPEAKER, "WeSpeaker ResNet34 at its published size", write_wespeaker),
    TinyRepo(
        PUBLISHED_PIPELINE,
        "speaker-diarization-3.1's config",
        lambda folder: write_pipeline_config(
            folder, segmentation=PUBLISHED_SEGMENTATION, embedding=PUBLISHED_WESPEAKER
        ),
    ),
    TinyRepo(COMMUNITY, "community-1 layout at the published sizes", _community),
    TinyRepo(
        PUBLISHED_SPEECHBRAIN,
        "ECAPA-TDNN at spkrec-ecapa-voxceleb's size",
        lambda folder: write_speechbrain_ecapa(folder, PUBLISHED_SPEECHBRAIN, size=PUBLISHED_ECAPA),
    ),
)


def build_real_size_repos(workdir: Path) -> dict[str, Path]:
    """Write each repo of ``REAL_SIZE_REPOS`` in ``workdir/<org>/<name>/``; repo id -> folder."""
    folders: dict[str, Path] = {}
    for repo in REAL_SIZE_REPOS:
        folder = workdir / repo.repo_id
        repo.write(folder)
        (folder / "README.md").write_text(
            f"# {repo.repo_id}\n\nRandom-weight model at the published size: {repo.description}.\n"
            "Built by ivrimeet's tests and bench to time real work; its outputs mean nothing.\n"
        )
        folders[repo.repo_id] = folder
    return folders
