"""A tiny PyanNet speaker segmentation model, shaped like ``pyannote/segmentation-3.0``."""

from __future__ import annotations

from pathlib import Path

import torch
from pyannote.audio.core.task import Problem, Resolution, Specifications
from pyannote.audio.models.segmentation import PyanNet

from tests.hubrepos.checkpoints import save_pyannote_checkpoint

__all__ = ["CHUNK_SECONDS", "write_published_segmentation", "write_segmentation"]

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
        model = _pyannet(lstm_size=16, lstm_layers=1, linear_size=16, linear_layers=1)
        with torch.no_grad():
            model.classifier.bias[_SPEAKER_1_ALONE] += _BIAS
    save_pyannote_checkpoint(model, folder / "pytorch_model.bin", hyper_parameters=True)


def write_published_segmentation(folder: Path, *, seed: int = 0) -> None:
    """Write ``folder/pytorch_model.bin`` at segmentation-3.0's size (~5.9 MB), random weights.

    The published hyperparameters: SincNet stride 10, 4-layer bidirectional LSTM of
    128, two linear layers of 128. A random PyanNet's last features barely move
    with the audio (their spread over time is ~6e-4), so its output is one
    powerset class everywhere and the pipeline would do a fraction of a real
    meeting's work. The classifier is therefore calibrated on pyannote.audio's own
    ``sample.wav``: features standardised, random unit-spread weights, a small bias
    towards single speakers. Then speakers come and go within each chunk (on
    sample.wav ~5 % silence, 95 % one speaker, a little overlap, all 3 local
    speakers heard per chunk) and clustering gets real work. Weights do not change
    compute cost; only the outputs, which mean nothing anyway.
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = _pyannet(lstm_size=128, lstm_layers=4, linear_size=128, linear_layers=2)
        _calibrate_classifier(model)
    save_pyannote_checkpoint(model, folder / "pytorch_model.bin", hyper_parameters=True)


# Preference per powerset class {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3}, in logit units.
_CLASS_BIAS = (0.5, 1.0, 1.0, 1.0, -0.5, -0.5, -0.5)


def _calibrate_classifier(model: PyanNet) -> None:
    import os

    import pyannote.audio
    import soundfile

    path = os.path.join(os.path.dirname(pyannote.audio.__file__), "sample", "sample.wav")
    samples, rate = soundfile.read(path, dtype="float32")
    window = int(CHUNK_SECONDS * rate)
    chunks = torch.stack(
        [
            torch.from_numpy(samples[start : start + window])
            for start in range(0, len(samples) - window + 1, rate)
        ]
    )[:, None]
    features: list[torch.Tensor] = []
    handle = model.classifier.register_forward_hook(
        lambda _module, inputs, _output: features.append(inputs[0])
    )
    model.eval()
    with torch.inference_mode():
        model(chunks)
    handle.remove()
    frames = features[0].reshape(-1, features[0].shape[-1])
    mean, spread = frames.mean(dim=0), frames.std(dim=0)
    weight = torch.randn(len(_CLASS_BIAS), frames.shape[1]) / (spread * frames.shape[1] ** 0.5)
    with torch.no_grad():
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(torch.tensor(_CLASS_BIAS) - weight @ mean)


def _pyannet(*, lstm_size: int, lstm_layers: int, linear_size: int, linear_layers: int) -> PyanNet:
    model = PyanNet(
        sincnet={"stride": 10},
        lstm={
            "hidden_size": lstm_size,
            "num_layers": lstm_layers,
            "bidirectional": True,
            "monolithic": True,
        },
        linear={"hidden_size": linear_size, "num_layers": linear_layers},
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
    return model
