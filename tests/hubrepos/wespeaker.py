"""A WeSpeaker ResNet34 embedding model, like ``pyannote/wespeaker-voxceleb-resnet34-LM``."""

from __future__ import annotations

from pathlib import Path

import torch
from pyannote.audio.core.task import Problem, Resolution, Specifications
from pyannote.audio.models.embedding import WeSpeakerResNet34

from tests.hubrepos.checkpoints import save_pyannote_checkpoint

__all__ = ["WESPEAKER_DIMENSION", "write_wespeaker"]

#: Size of one WeSpeaker ResNet34 embedding.
WESPEAKER_DIMENSION = 256


def write_wespeaker(folder: Path, *, seed: int = 1) -> None:
    """Write ``folder/pytorch_model.bin``: ``WeSpeakerResNet34`` with random weights (about 26 MB).

    ``WeSpeakerResNet34`` hard-codes its layer sizes, so it cannot be made smaller;
    it is the class the published checkpoint names, saved by pyannote's own
    conversion recipe (``Problem.REPRESENTATION``, chunk resolution).
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = WeSpeakerResNet34()
    model.specifications = Specifications(
        problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0
    )
    save_pyannote_checkpoint(model, folder / "pytorch_model.bin", hyper_parameters=False)
