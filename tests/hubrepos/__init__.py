"""Random-weight model repos in the real published formats, for the Hugging Face Hub stand-in.

``build_repos(workdir)`` writes every repo of ``REPOS`` (a few seconds, mostly the
26 MB WeSpeaker checkpoints); ``publish_repos(hub, folders)`` serves them. The
repo ids, what each holds and which are gated are in ``catalog``.
``build_real_size_repos(workdir)`` writes the published ids at the published
sizes (``realsize``), for the bench and slow tests.
"""

from tests.hubrepos.catalog import (
    COMMUNITY,
    GATED,
    PIPELINE,
    PIPELINE_CLOSURES,
    PIPELINE_SPEECHBRAIN,
    PUBLISHED_PIPELINE,
    PUBLISHED_SEGMENTATION,
    PUBLISHED_SPEECHBRAIN,
    PUBLISHED_WESPEAKER,
    REPOS,
    SAFETENSORS,
    SEGMENTATION,
    SPEECHBRAIN_ECAPA,
    WESPEAKER,
    TinyRepo,
    build_repos,
    publish_repos,
)
from tests.hubrepos.realsize import REAL_SIZE_REPOS, build_real_size_repos
from tests.hubrepos.safetensors_model import SAFETENSORS_SHAPES
from tests.hubrepos.speechbrain_ecapa import ECAPA_DIMENSION
from tests.hubrepos.wespeaker import WESPEAKER_DIMENSION

__all__ = [
    "COMMUNITY",
    "ECAPA_DIMENSION",
    "GATED",
    "PIPELINE",
    "PIPELINE_CLOSURES",
    "PIPELINE_SPEECHBRAIN",
    "PUBLISHED_PIPELINE",
    "PUBLISHED_SEGMENTATION",
    "PUBLISHED_SPEECHBRAIN",
    "PUBLISHED_WESPEAKER",
    "REAL_SIZE_REPOS",
    "REPOS",
    "SAFETENSORS",
    "SAFETENSORS_SHAPES",
    "SEGMENTATION",
    "SPEECHBRAIN_ECAPA",
    "WESPEAKER",
    "WESPEAKER_DIMENSION",
    "TinyRepo",
    "build_real_size_repos",
    "build_repos",
    "publish_repos",
]
