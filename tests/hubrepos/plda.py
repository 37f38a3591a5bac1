"""The PLDA pyannote.audio 4 loads for VBx clustering: ``xvec_transform.npz``, ``plda.npz``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["PLDA_DIMENSION", "write_plda"]

#: LDA dimension that ``pyannote.audio.core.plda.PLDA`` keeps by default.
PLDA_DIMENSION = 128


def write_plda(folder: Path, *, embedding_dimension: int, seed: int = 2) -> None:
    """Write ``folder/xvec_transform.npz`` (mean1, mean2, lda), ``folder/plda.npz`` (mu, tr, psi).

    The arrays have the shapes ``pyannote.audio.utils.vbx.vbx_setup`` reads, and a
    well-conditioned ``tr`` and positive ``psi`` so its generalised eigenproblem
    is solvable; the values are random, the model is meaningless.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    lda = rng.standard_normal((embedding_dimension, PLDA_DIMENSION))
    np.savez(
        folder / "xvec_transform.npz",
        mean1=rng.standard_normal(embedding_dimension),
        mean2=rng.standard_normal(PLDA_DIMENSION),
        lda=lda,
    )
    tr = np.eye(PLDA_DIMENSION) + 0.01 * rng.standard_normal((PLDA_DIMENSION, PLDA_DIMENSION))
    np.savez(
        folder / "plda.npz",
        mu=rng.standard_normal(PLDA_DIMENSION),
        tr=tr,
        psi=np.sort(rng.uniform(0.1, 10.0, PLDA_DIMENSION))[::-1].copy(),
    )
