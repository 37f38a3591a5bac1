"""``allocator-inference``: the embedding step's inference with and without ``tune_for_streaming``.

    python bench/cases/processing_allocator.py tuned|default CHUNKS

Each run is a process that builds the WeSpeaker ResNet34 (published size,
random weights), optionally applies ``ivrimeet.allocator.tune_for_streaming``
(the upload tuning ``ivrimeet serve`` used to apply to every process), then
computes ``chunk_embeddings``-style work: fbank + trunk for CHUNKS 10 s chunks
in batches of 10, then pooling + head for 3 speakers each. The ivrimeet row
is the tuned process and the reference the glibc defaults, so a ratio under 1
means the tuning slows inference: why ``ivrimeet serve`` applies it only with
``--no-worker``. Registers the case when imported by the bench.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.harness import Context, Tool

CHUNKS = 40
# Bytes stand for chunks in the harness's throughput columns.
BYTES_PER_CHUNK = 1024 * 1024


def _work(mode: str, chunks: int) -> None:
    if mode == "tuned":
        from ivrimeet.allocator import tune_for_streaming

        if not tune_for_streaming():
            raise SystemExit("mallopt unavailable: nothing to compare")
    import torch
    from pyannote.audio.models.embedding import WeSpeakerResNet34

    torch.manual_seed(0)
    model = WeSpeakerResNet34().eval()
    generator = torch.Generator().manual_seed(1)
    started = time.monotonic()
    with torch.inference_mode():
        for first in range(0, chunks, 10):
            count = min(10, chunks - first)
            waveforms = 0.1 * torch.randn(count, 1, 160_000, generator=generator)
            frames = model.resnet.forward_frames(model.compute_fbank(waveforms))
            masks = (torch.rand(count * 3, 589, generator=generator) > 0.5).float()
            rows = torch.arange(count).repeat_interleave(3)
            model.resnet.forward_embedding(frames.index_select(0, rows), weights=masks)
    print(f"{mode}: {time.monotonic() - started:.2f} s", file=sys.stderr)


def prepare(ctx: Context, size: int) -> list[Tool]:
    from bench.harness import Tool

    chunks = str(max(1, size // BYTES_PER_CHUNK))
    script = str(Path(__file__).resolve())
    return [
        Tool("inference, tune_for_streaming", [ctx.python, script, "tuned", chunks], False),
        Tool("inference, glibc defaults", [ctx.python, script, "default", chunks], True),
    ]


if __name__ == "__main__":
    _work(sys.argv[1], int(sys.argv[2]))
else:
    from bench.cases import register
    from bench.harness import Case, Target

    register(
        Case(
            name="allocator-inference",
            description="ResNet34 chunk embeddings with the upload allocator tuning vs without",
            full_bytes=CHUNKS * BYTES_PER_CHUNK,
            quick_bytes=10 * BYTES_PER_CHUNK,
            prepare=prepare,
            # Kept out of inference unless at least neutral (1.0 = as fast as the defaults).
            target=Target(min_ratio=1.0),
        )
    )
