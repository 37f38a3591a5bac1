"""``ModelHolder``: the diarization pipeline and speaker encoder, loaded once per process.

The worker and ``ivrimeet process`` build one holder at start-up and call
``holder.get()`` for every job; the first call loads both models through the
model store (bucket first, Hugging Face otherwise), later calls return the same
objects, the pipeline's embedding step replaced by ``install_chunk_embeddings``
(same results, each chunk computed once). A failed load is not remembered: the
next job tries again (the bucket or the Hub may be back). ``loaded`` answers
readiness checks without loading.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from ivrimeet.models import ModelStore, load_diarization_pipeline, load_speaker_encoder
from ivrimeet.processing.embeddings import install_chunk_embeddings
from ivrimeet.processing.threads import set_inference_threads
from ivrimeet.processing.voiceprints import SpeakerEncoder

__all__ = ["LoadedModels", "ModelHolder"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModels:
    """A ready pyannote ``Pipeline`` and SpeechBrain ``EncoderClassifier``."""

    pipeline: Any  # pyannote.audio.Pipeline (untyped library)
    encoder: SpeakerEncoder


class ModelHolder:
    """Loads ``pipeline_repo`` and ``encoder_repo`` from ``store`` once, when first asked."""

    def __init__(
        self,
        store: ModelStore,
        *,
        pipeline_repo: str,
        encoder_repo: str,
        pipeline_revision: str | None = None,
        encoder_revision: str | None = None,
    ) -> None:
        self._store = store
        self.pipeline_repo = pipeline_repo
        self.encoder_repo = encoder_repo
        self._pipeline_revision = pipeline_revision
        self._encoder_revision = encoder_revision
        self._lock = threading.Lock()
        self._models: LoadedModels | None = None

    @property
    def loaded(self) -> bool:
        """True once both models are in memory."""
        return self._models is not None

    def get(self) -> LoadedModels:
        """Both models, loading them on the first call (other threads wait for that load)."""
        models = self._models
        if models is not None:
            return models
        with self._lock:
            if self._models is None:
                self._models = self._load()
            return self._models

    def _load(self) -> LoadedModels:
        started = time.monotonic()
        # The container's CPU quota, not the host's cores (torch's default).
        set_inference_threads()
        pipeline = load_diarization_pipeline(
            self._store, self.pipeline_repo, self._pipeline_revision
        )
        # Same embeddings, each chunk's trunk computed once (3x less work for WeSpeaker).
        install_chunk_embeddings(pipeline)
        encoder = load_speaker_encoder(self._store, self.encoder_repo, self._encoder_revision)
        logger.info(
            "models.ready pipeline=%s encoder=%s seconds=%.2f",
            self.pipeline_repo,
            self.encoder_repo,
            time.monotonic() - started,
        )
        return LoadedModels(pipeline=pipeline, encoder=encoder)
