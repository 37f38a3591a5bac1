"""The diarization pipeline's embedding step, computing each chunk's trunk once.

pyannote.audio's ``SpeakerDiarization.get_embeddings`` (4.0.7) makes one
embedding per (chunk, local speaker): 3 per 10 s chunk, one chunk per second,
each a full fbank + ResNet34 forward over the *same* chunk waveform; the
speaker's mask only enters the final statistics pooling. On 2 CPU cores that
is ~97 % of a diarization. ``install_chunk_embeddings(pipeline)`` replaces that
method on one pipeline instance with ``chunk_embeddings``:

    per batch of chunks     fbank + ResNet trunk (``forward_frames``), once per chunk
    per active speaker      masked statistics pooling + embedding head (``forward_embedding``)
    per inactive speaker    nothing: the value pyannote's model gives an all-zero mask
                            (pooling of zero weights is 0, so the head's output on 0),
                            which the pipeline throws away (``hard_clusters[inactive] = -2``)

The masks, the crop of each chunk and the hook calls are pyannote's own, so the
embeddings match pyannote's within floating-point tolerance and the
diarization is the same (``tests/integration/test_embeddings.py``). This is the
one module that knows pyannote's embedding internals: an upgrade that changes
them is a change here. An embedding model it does not recognise (SpeechBrain,
ONNX, another architecture) keeps pyannote's own path.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["chunk_embeddings", "install_chunk_embeddings"]

logger = logging.getLogger(__name__)

_Hook = Callable[..., object]


def install_chunk_embeddings(pipeline: Any) -> bool:
    """Make ``pipeline`` (a pyannote ``SpeakerDiarization``) compute each chunk once.

    True when installed; False (pipeline unchanged) for an embedding model this
    module does not recognise. Only this instance changes, and a pipeline in
    training mode (hyper-parameter tuning, with its embedding cache) still
    takes pyannote's path.
    """
    model = _recognised_model(pipeline)
    if model is None:
        logger.info(
            "embeddings.pyannote_path model=%s",
            type(getattr(getattr(pipeline, "_embedding", None), "model_", None)).__name__,
        )
        return False
    original = pipeline.get_embeddings

    def get_embeddings(
        file: Any,
        binary_segmentations: Any,
        exclude_overlap: bool = False,
        hook: _Hook | None = None,
    ) -> npt.NDArray[np.float32]:
        if pipeline.training:
            result: npt.NDArray[np.float32] = original(
                file, binary_segmentations, exclude_overlap=exclude_overlap, hook=hook
            )
            return result
        return chunk_embeddings(
            pipeline, file, binary_segmentations, exclude_overlap=exclude_overlap, hook=hook
        )

    pipeline.get_embeddings = get_embeddings
    logger.info("embeddings.chunk_once model=%s", type(model).__name__)
    return True


def chunk_embeddings(
    pipeline: Any,
    file: Any,
    binary_segmentations: Any,
    *,
    exclude_overlap: bool = False,
    hook: _Hook | None = None,
) -> npt.NDArray[np.float32]:
    """``get_embeddings`` with one trunk forward per chunk: (chunks, local speakers, dimension).

    Same arguments and result as pyannote's method; ``hook`` is called as
    pyannote calls it (``"embeddings"``, ``total=`` batches, ``completed=``).
    """
    import torch

    embedding = pipeline._embedding
    model = embedding.model_
    masks = _speaker_masks(pipeline, binary_segmentations, exclude_overlap)
    num_chunks, num_speakers, _ = masks.shape
    active = masks.sum(axis=2) > 0
    # As many chunks per batch as pyannote has (chunk, speaker) items: the same memory.
    chunks_per_batch = max(1, pipeline.embedding_batch_size // max(num_speakers, 1))
    batch_count = math.ceil(num_chunks / chunks_per_batch)
    if hook is not None:
        hook("embeddings", None, total=batch_count, completed=0)

    device = embedding.device
    with torch.inference_mode():
        empty = _empty_mask_embedding(model, device)
        result = np.empty((num_chunks, num_speakers, empty.shape[0]), dtype=np.float32)
        result[:] = empty
        windows = [window for window, _ in binary_segmentations]
        for number, first in enumerate(range(0, num_chunks, chunks_per_batch), start=1):
            chunks = [c for c in range(first, min(first + chunks_per_batch, num_chunks))]
            chunks = [c for c in chunks if active[c].any()]
            if chunks:
                waveforms = torch.vstack([_crop(pipeline, file, windows[c])[None] for c in chunks])
                frames = model.resnet.forward_frames(model.compute_fbank(waveforms.to(device)))
                pairs = [(i, c, s) for i, c in enumerate(chunks) for s in np.flatnonzero(active[c])]
                rows = torch.tensor([i for i, _, _ in pairs], device=frames.device)
                weights = torch.from_numpy(np.stack([masks[c, s] for _, c, s in pairs]))
                _, vectors = model.resnet.forward_embedding(
                    frames.index_select(0, rows), weights=weights.to(device)
                )
                values = vectors.cpu().numpy()
                for (_, c, s), value in zip(pairs, values, strict=True):
                    result[c, s] = value
            if hook is not None:
                hook("embeddings", None, total=batch_count, completed=number)
    logger.debug(
        "embeddings.done chunks=%d trunks=%d embeddings=%d of %d",
        num_chunks,
        int(active.any(axis=1).sum()),
        int(active.sum()),
        num_chunks * num_speakers,
    )
    return result


def _crop(pipeline: Any, file: Any, window: Any) -> Any:
    """The chunk's waveform, (1, samples), cropped and padded exactly as pyannote does."""
    waveform, _ = pipeline._audio.crop(file, window, mode="pad")
    return waveform


def _recognised_model(pipeline: Any) -> Any | None:
    """The WeSpeaker ResNet inside ``pipeline``'s embedding, or None for any other model."""
    try:
        from pyannote.audio.models.embedding.wespeaker import BaseWeSpeakerResNet
        from pyannote.audio.pipelines.speaker_verification import (
            PyannoteAudioPretrainedSpeakerEmbedding,
        )
    except ImportError:  # a pyannote.audio that moved them: its own path still works
        return None
    embedding = getattr(pipeline, "_embedding", None)
    if not isinstance(embedding, PyannoteAudioPretrainedSpeakerEmbedding):
        return None
    model = embedding.model_
    if not isinstance(model, BaseWeSpeakerResNet) or model.fbank_only:
        return None
    resnet = getattr(model, "resnet", None)
    if not (hasattr(resnet, "forward_frames") and hasattr(resnet, "forward_embedding")):
        return None
    return model


def _speaker_masks(
    pipeline: Any, binary_segmentations: Any, exclude_overlap: bool
) -> npt.NDArray[np.float32]:
    """The pooling weights pyannote uses for each (chunk, speaker): (chunks, speakers, frames).

    With ``exclude_overlap``, frames where others speak too are dropped, unless
    that leaves too few frames for the model, as in pyannote's ``get_embeddings``.
    """
    data = binary_segmentations.data
    # mask may contain NaN (partial stitching): zero there, as pyannote does.
    masks = np.nan_to_num(data, nan=0.0).astype(np.float32)
    if exclude_overlap:
        num_frames = data.shape[1]
        embedding = pipeline._embedding
        num_samples = binary_segmentations.sliding_window.duration * embedding.sample_rate
        min_num_frames = math.ceil(num_frames * embedding.min_num_samples / num_samples)
        clean_frames = 1.0 * (np.sum(data, axis=2, keepdims=True) < 2)
        clean = np.nan_to_num(data * clean_frames, nan=0.0).astype(np.float32)
        use_clean = np.sum(clean, axis=1, keepdims=True) > min_num_frames
        masks = np.where(use_clean, clean, masks)
    return np.ascontiguousarray(masks.transpose(0, 2, 1))


def _empty_mask_embedding(model: Any, device: Any) -> npt.NDArray[np.float32]:
    """What the model gives for an all-zero mask: the head applied to zero statistics."""
    import torch

    channels = model.resnet.forward_frames(model.compute_fbank(torch.zeros(1, 1, 16000).to(device)))
    _, vector = model.resnet.forward_embedding(
        channels, weights=torch.zeros(1, channels.shape[-1], device=device)
    )
    values: npt.NDArray[np.float32] = vector[0].cpu().numpy().astype(np.float32)
    return values
