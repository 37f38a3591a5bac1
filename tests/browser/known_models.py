"""Stand-ins for the worker's models that know the answer, for the generated two-voice recording.

* ``known_turns(workdir)``: (start, end, label) of each line of ``tests.audio``'s
  recording, measured from the same espeak-ng parts it is made of;
* ``KnownTurnsPipeline(turns)``: answers like a pyannote pipeline, with those turns;
* ``PitchEncoder()``: a voiceprint that is a histogram of the voice's pitch (tells
  the low voice from the high one, so name suggestions work);
* ``KnownModels(LoadedModels(...))``: stands where the worker's ``ModelHolder`` stands.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ivrimeet.processing.models import LoadedModels
from tests.audio import LINES, VOICES

PAUSE_SECONDS = 0.4  # between lines, as tests.audio joins them
SAMPLE_RATE = 16_000


def known_turns(workdir: Path) -> list[tuple[float, float, str]]:
    """(start, end, label) of every line of the two-voice recording, from its own parts."""
    turns, start = [], 0.0
    labels = {"low": "SPEAKER_00", "high": "SPEAKER_01"}
    for index, (who, text) in enumerate(LINES):
        voice, pitch, speed = VOICES[who]
        part = workdir / f"line-{index}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-p", pitch, "-s", speed, "-w", str(part), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(part)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
        turns.append((start, start + seconds, labels[who]))
        start += seconds + PAUSE_SECONDS
    return turns


class KnownTurnsPipeline:
    """Answers like a pyannote pipeline, with the turns the recording is known to have."""

    def __init__(self, turns: list[tuple[float, float, str]]) -> None:
        self.turns = turns

    def __call__(self, audio: dict[str, Any], hook: Any = None) -> Any:
        """Like ``Pipeline.__call__``: ``hook`` (progress) is accepted; there are no steps."""
        from pyannote.core import Annotation, Segment

        annotation = Annotation()
        for index, (start, end, label) in enumerate(self.turns):
            annotation[Segment(start, end), index] = label
        return annotation


class PitchEncoder:
    """A voiceprint that is a histogram of the voice's pitch: enough to tell espeak's two voices."""

    bins = np.geomspace(60, 400, 49)

    def encode_batch(self, wavs: Any, wav_lens: Any = None) -> Any:
        import torch

        return torch.from_numpy(np.stack([self._histogram(w.numpy()) for w in wavs]))[:, None, :]

    def _histogram(self, samples: np.ndarray) -> np.ndarray:
        frame, hop = int(0.04 * SAMPLE_RATE), int(0.01 * SAMPLE_RATE)
        lags = np.arange(SAMPLE_RATE // 400, SAMPLE_RATE // 60 + 1)
        counts = np.zeros(len(self.bins) - 1, dtype=np.float32)
        for offset in range(0, len(samples) - frame, hop):
            piece = samples[offset : offset + frame] - samples[offset : offset + frame].mean()
            energy = float(np.dot(piece, piece))
            if energy < 1e-3:
                continue
            correlation = np.array([np.dot(piece[:-lag], piece[lag:]) for lag in lags]) / energy
            best = int(correlation.argmax())
            if correlation[best] >= 0.5:
                index = np.searchsorted(self.bins, SAMPLE_RATE / lags[best]) - 1
                if 0 <= index < len(counts):
                    counts[index] += 1
        return counts + 1e-6


@dataclass
class KnownModels:
    """Stands where the worker's ``ModelHolder`` stands."""

    models: LoadedModels

    def get(self) -> LoadedModels:
        return self.models
