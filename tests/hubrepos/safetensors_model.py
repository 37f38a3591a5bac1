"""A plain ``config.json`` + ``model.safetensors`` repo, as transformers-style libraries publish."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

__all__ = ["SAFETENSORS_SHAPES", "write_safetensors_model"]

#: Tensor name -> shape of the tensors in ``model.safetensors``.
SAFETENSORS_SHAPES = {"encoder.weight": (8, 4), "encoder.bias": (8,)}


def write_safetensors_model(folder: Path, *, seed: int = 4) -> None:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` (``SAFETENSORS_SHAPES``)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in SAFETENSORS_SHAPES.items()
    }
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "np"})
    config = {"model_type": "ivrimeet-tiny", "hidden_size": 8, "input_size": 4}
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
