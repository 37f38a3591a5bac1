"""A tiny PyanNet speaker segmentation model, shaped like ``pyannote/segmentation-3.0``."""

from __future__ import annotations

from pathlib import Path

import torch
from pyannote.audio.core.task import Problem, Resolution, Specifications
from pyannote.audio.models.segmentation import PyanNet

from tests.hubrepos.checkpoints import save_pyannote_checkpoint

__all__ = ["CHUNK_SECONDS", "write_segmentation"]

#: Duration of the window the model sees, as in segmentation-3.0.
CHUNK_SECONDS = 10.0

# Powerset classes are ordered {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3}.
_SPEAKER_1_ALONE = 1
_BIAS = 5.0


def write_segmentation(folder: Path, *, seed: int = 0) -> None:
    """Write ``folder/pytorch_model.bin``: PyanNet, powerset over 3 speakers (2 at once).

    Same architecture and task as segmentation-3.0 (SincNet stride 10, LSTM, linear,
    10 s chunks, 7 powerset classes) with 16-unit layers: about 230 kB. Weights are
    random, but the classifier's bias favours the powerset class "speaker#1 alone",
    so on any audio the model hears one speaker all the time. That keeps pipeline
    output stable: one speaker over the whole file, instead of an empty result or
    pyannote clustering zero embeddings (``RuntimeWarning: Mean of empty slice``).
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = PyanNet(
            sincnet={"stride": 10},
            lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True, "monolithic": True},
            linear={"hidden_size": 16, "num_layers": 1},
        )
        model.specifications = Specifications(
            problem=Problem.MONO_LABEL_CLASSIFICATION,
            resolution=Resolution.FRAME,
            duration=CHUNK_SECONDS,
            min_duration=CHUNK_SECONDS,
            warm_up=(0.0, 0.0),
            classes=["speaker#1", "speaker#2", "speaker#3"],
            powerset_max_classes=2,
            permutation_invariant=True,
        )
        model.build()
        with torch.no_grad():
            model.classifier.bias[_SPEAKER_1_ALONE] += _BIAS
    save_pyannote_checkpoint(model, folder / "pytorch_model.bin", hyper_parameters=True)
