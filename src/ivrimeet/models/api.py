"""The model store's public functions: what the processing layer and entry points call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivrimeet.errors import ConflictError, IvrimeetError
from ivrimeet.models.hub import download_file, repo_files
from ivrimeet.models.loaders import (
    EncoderLoader,
    Loader,
    Materialized,
    PipelineLoader,
    SnapshotLoader,
)
from ivrimeet.models.manifest import Manifest, ModelKind
from ivrimeet.models.repo_ids import validate_repo_id, validate_revision
from ivrimeet.models.report import LoadReport
from ivrimeet.models.store import ModelStore, serves
from ivrimeet.models.tempcache import temp_cache

if TYPE_CHECKING:
    from pyannote.audio import Pipeline
    from speechbrain.inference.speaker import EncoderClassifier

__all__ = [
    "PullResult",
    "detect_kind",
    "load_diarization_pipeline",
    "load_speaker_encoder",
    "loader_for",
    "materialize",
    "pull",
]


def load_diarization_pipeline(
    store: ModelStore, repo: str, revision: str | None = None
) -> Pipeline:
    """A ready ``pyannote.audio.Pipeline`` for ``repo`` (e.g. ``settings.diarization_pipeline``).

    Whatever its ``config.yaml`` names comes along: segmentation, a WeSpeaker or
    SpeechBrain embedding, the PLDA pyannote 4 fetches from community-1. From
    the bucket when stored there (no Hugging Face request), else from Hugging
    Face, then stored. Raises an ``IvrimeetError`` subclass naming what failed.
    """
    return store.load(PipelineLoader(), repo, revision).value


def load_speaker_encoder(
    store: ModelStore, repo: str, revision: str | None = None, *, device: str = "cpu"
) -> EncoderClassifier:
    """A ready SpeechBrain ``EncoderClassifier`` for ``repo`` (``settings.embedding_model``)."""
    return store.load(EncoderLoader(device), repo, revision).value


@contextmanager
def materialize(
    store: ModelStore, repo: str, revision: str | None = None
) -> Iterator[Materialized]:
    """A Hugging Face cache directory holding ``repo``'s stored closure, for the block.

    For any library reading the Hugging Face cache (transformers, safetensors,
    ``hf_hub_download(..., cache_dir=m.cache_dir, local_files_only=True)``).
    If the bucket lacks the repo, every file of it is downloaded
    (``snapshot_download``) and stored. The directory is removed when the block
    exits::

        with materialize(store, "org/name") as m:
            weights = safetensors.torch.load_file(m.snapshot / "model.safetensors")
    """
    with store.open(SnapshotLoader(), repo, revision) as loaded:
        yield loaded.value


def loader_for(kind: ModelKind) -> Loader[object]:
    """The loader that fills closures of ``kind``."""
    loaders: dict[str, Loader[object]] = {
        "pipeline": PipelineLoader(),
        "encoder": EncoderLoader(),
        "snapshot": SnapshotLoader(),
    }
    return loaders[kind]


def detect_kind(store: ModelStore, repo: str, revision: str) -> ModelKind:
    """The loader ``repo``'s files call for, asked of Hugging Face (one or two requests).

    ``hyperparams.yaml`` → ``encoder`` (SpeechBrain); a ``config.yaml`` with a
    top-level ``pipeline`` key → ``pipeline`` (pyannote); anything else →
    ``snapshot``. The same repo always gets the same kind, whatever is configured.
    """
    import yaml  # only here: a restore never parses YAML it has no file for

    files = set(repo_files(store.hub, repo, revision))
    if "hyperparams.yaml" in files:
        return "encoder"
    if "config.yaml" not in files:
        return "snapshot"
    with temp_cache(store.tmp_dir) as scratch:
        path = download_file(store.hub, repo, "config.yaml", revision, scratch)
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return "pipeline" if isinstance(config, dict) and "pipeline" in config else "snapshot"


@dataclass(frozen=True)
class PullResult:
    """What ``pull`` did: found it stored already (``report`` None) or filled it."""

    repo: str
    revision: str
    manifest: Manifest
    report: LoadReport | None


def pull(
    store: ModelStore,
    repo: str,
    revision: str | None = None,
    *,
    kind: ModelKind | None = None,
    refresh: bool = False,
) -> PullResult:
    """Make sure the bucket holds ``repo@revision`` for the ``kind`` loader (pre-warming).

    ``kind`` None: the kind the repo's files call for (``detect_kind``), or,
    when the repo is stored already, whatever it is stored as. Already stored
    as a closure that serves ``kind`` (and no ``refresh``): nothing is
    transferred; stored as one that does not: ``ConflictError`` saying what to
    run. Otherwise the ``kind`` loader fills it from Hugging Face; a failed
    upload is an error here, not a warning. ``refresh`` asks Hugging Face for
    the revision's current commit and stores it beside older ones.
    """
    repo = validate_repo_id(repo)
    revision = validate_revision(revision or "main")
    if not refresh:
        stored = store.find_manifest(repo, revision)
        if stored is not None and kind is not None and not serves(stored.kind, kind):
            what = f"{repo}@{stored.commit}"
            raise ConflictError(
                f"{what} is stored as a {stored.kind!r} closure, which lacks files the "
                f"{kind!r} loader needs.",
                hints=[
                    f"remove it and pull again: `ivrimeet models rm {what}` then "
                    f"`ivrimeet models pull {repo} --kind {kind}`",
                ],
            )
        if stored is not None:
            return PullResult(repo=repo, revision=revision, manifest=stored, report=None)
    if kind is None:
        try:
            kind = detect_kind(store, repo, revision)
        except IvrimeetError as exc:
            raise store.both_failed(repo, revision, exc, None) from exc
    with store.open(loader_for(kind), repo, revision, refresh=refresh, strict=True) as loaded:
        return PullResult(
            repo=repo, revision=revision, manifest=loaded.manifest, report=loaded.report
        )
