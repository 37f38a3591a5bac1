"""Save a pyannote.audio model as the ``pytorch_model.bin`` ``Model.from_pretrained`` loads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning
import torch
from pyannote.audio import Model

__all__ = ["save_pyannote_checkpoint"]


def save_pyannote_checkpoint(model: Model, path: Path, *, hyper_parameters: bool) -> None:
    """Save ``model`` (specifications set) at ``path`` the way pyannote's published checkpoints are.

    This is the recipe of ``pyannote/audio/models/embedding/wespeaker/convert.py``:
    a Lightning checkpoint dict with ``state_dict``, the ``pyannote.audio`` block
    (versions, architecture, specifications) that ``Model.on_save_checkpoint`` adds,
    and ``pytorch-lightning_version``. With ``hyper_parameters``, the constructor
    arguments are stored too, so ``load_from_checkpoint`` rebuilds the same
    (tiny) sizes instead of the class defaults.
    """
    checkpoint: dict[str, Any] = {"state_dict": model.state_dict()}
    if hyper_parameters:
        checkpoint["hyper_parameters"] = dict(model.hparams)
    model.on_save_checkpoint(checkpoint)
    checkpoint["pytorch-lightning_version"] = lightning.__version__
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
