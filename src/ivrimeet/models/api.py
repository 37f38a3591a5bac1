"""The model store's public functions: what the processing layer and entry points call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ivrimeet.models.loaders import EncoderLoader, Materialized, PipelineLoader, SnapshotLoader
from ivrimeet.models.store import ModelStore

if TYPE_CHECKING:
    from pyannote.audio import Pipeline
    from speechbrain.inference.speaker import EncoderClassifier

__all__ = ["load_diarization_pipeline", "load_speaker_encoder", "materialize"]


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
