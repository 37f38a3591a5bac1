"""Let pyannote.audio 4.0.7 load SpeechBrain embeddings with speechbrain 1.1.2; mute its telemetry.

pyannote.audio 4.0.7 builds a SpeechBrain embedding (any pipeline whose embedding
repo id contains "speechbrain") with::

    EncoderClassifier.from_hparams(
        source=repo_id, savedir=f"{cache_dir}/speechbrain",
        run_opts={"device": torch.device(...)},
        token=token, huggingface_cache_dir=cache_dir, revision=revision,
    )

speechbrain 1.x rejects that twice:

1. ``token``, ``huggingface_cache_dir`` and ``revision`` are accepted only inside
   ``fetch_config=speechbrain.utils.fetching.FetchConfig(...)``; passed loose they
   reach ``Pretrained.__init__`` -> ``TypeError: ... unexpected keyword argument 'token'``;
2. ``run_opts["device"]`` must be a string (``"cpu"``, ``"cuda:0"``); a
   ``torch.device`` -> ``TypeError: argument of type 'torch.device' is not iterable``.

``install_speechbrain_compat()`` swaps the ``EncoderClassifier`` that pyannote's
``speaker_verification`` module calls for an adapter that translates both, then
returns a plain ``speechbrain.inference.speaker.EncoderClassifier``. The test
``tests/integration/test_speechbrain_compat.py`` fails when either library fixes
the mismatch, which is the signal to delete this module.

Both functions import torch, pyannote.audio and speechbrain when called, so
importing this module stays cheap.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from speechbrain.inference.speaker import EncoderClassifier

__all__ = ["disable_pyannote_telemetry", "install_speechbrain_compat"]

logger = logging.getLogger(__name__)


class _EncoderClassifierForPyannote:
    """Stands where pyannote expects ``EncoderClassifier``; pyannote only calls ``from_hparams``."""

    @staticmethod
    def from_hparams(
        source: str,
        *,
        savedir: str | Path | None = None,
        run_opts: dict[str, Any] | None = None,
        token: str | bool | None = None,
        huggingface_cache_dir: str | Path | None = None,
        revision: str | None = None,
        **kwargs: Any,
    ) -> EncoderClassifier:
        """Load ``source`` with speechbrain 1.x, given the keywords pyannote 4.0.7 passes.

        ``token=None`` is passed on as ``None``, so huggingface_hub applies its usual
        default, as it does for pyannote's own downloads (speechbrain's default,
        ``False``, would send no token at all).
        """
        from speechbrain.inference.speaker import EncoderClassifier
        from speechbrain.utils.fetching import FetchConfig

        # FetchConfig annotates token as bool; fetch() hands it to hf_hub_download unchanged.
        fetch_config = FetchConfig(
            token=token,
            revision=revision,
            huggingface_cache_dir=(
                None if huggingface_cache_dir is None else str(huggingface_cache_dir)
            ),
        )
        options = dict(run_opts or {})
        if "device" in options and options["device"] is not None:
            options["device"] = str(options["device"])
        return EncoderClassifier.from_hparams(
            source=source,
            savedir=savedir,
            run_opts=options,
            fetch_config=fetch_config,
            **kwargs,
        )


def install_speechbrain_compat() -> None:
    """Route pyannote.audio's SpeechBrain embeddings through the adapter; idempotent."""
    from pyannote.audio.pipelines import speaker_verification

    # pyannote imports speechbrain's class under this private alias and calls it from there.
    current = speaker_verification.SpeechBrain_EncoderClassifier  # type: ignore[attr-defined]
    if current is _EncoderClassifierForPyannote:
        return
    speaker_verification.SpeechBrain_EncoderClassifier = _EncoderClassifierForPyannote  # type: ignore[attr-defined]
    logger.debug("speechbrain_compat.installed module=%s", speaker_verification.__name__)


def disable_pyannote_telemetry() -> None:
    """Stop pyannote.audio sending usage telemetry (on by default) for the rest of this process.

    pyannote.audio 4.0.7 exports OpenTelemetry spans to otel.pyannote.ai on every
    model load, pipeline load and pipeline run unless ``PYANNOTE_METRICS_ENABLED``
    is false when it checks. ``set_telemetry_metrics(False)`` is its own switch: it
    sets that variable for this process (children inherit it) without touching the
    default saved in pyannote's installed ``config.yaml``.
    """
    from pyannote.audio.telemetry import set_telemetry_metrics

    set_telemetry_metrics(False)
