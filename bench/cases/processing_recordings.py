"""Long meeting recordings for the processing cases, made here from espeak-ng speech.

``meeting_recording(workdir, seconds, fmt)`` writes (once, cached in ``workdir``)
a meeting of ``seconds``: four espeak-ng voices taking turns of one to three
sentences, pauses of 0.2-1.5 s between turns, one turn in five starting
0.3-1.2 s before the previous one ends (overlap), and background noise at
about -40 dBFS; 16 kHz mono, then encoded by ffmpeg as phones send it
(``mp3`` 64 kbit/s, ``m4a`` AAC 64 kbit/s, or ``wav``). A fixed seed makes the
same file every time. Registers no case.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_RATE", "meeting_recording"]

SAMPLE_RATE = 16_000

#: espeak-ng voice, pitch (0-99), words per minute: two lower, two higher voices.
_VOICES = (
    ("en-us", "25", "150"),
    ("en+f3", "75", "175"),
    ("en-gb", "45", "160"),
    ("en+f4", "60", "165"),
)

_SENTENCES = (
    "Good morning everyone, thank you for joining the quarterly review.",
    "Revenue grew by twelve percent, mostly from the new subscription plans.",
    "What happened with the churn rate after the price change in September?",
    "Churn stayed flat, and support tickets went down a little.",
    "The next topic is hiring for the platform team.",
    "We have two open positions and three candidates in the final round.",
    "Can we move the launch to the second week of March?",
    "I think that depends on the security review, which is not finished yet.",
    "Let me share my screen so everyone can see the numbers.",
    "The new storage layer cut our costs by almost a third.",
    "Does anyone have questions before we move on?",
    "I would like to hear from the design team about the onboarding flow.",
    "We tested three versions with customers and the second one won clearly.",
    "Please send me the slides after the meeting.",
    "The budget for next quarter is still under discussion with finance.",
    "Our response time improved from four hours to under one hour.",
)


def meeting_recording(workdir: Path, seconds: float, fmt: str = "mp3") -> Path:
    """The ``fmt`` file of a ``seconds``-long meeting under ``workdir`` (built on first use)."""
    workdir.mkdir(parents=True, exist_ok=True)
    wav = workdir / f"meeting-{int(seconds)}s.wav"
    if not wav.exists():
        _write_wav(wav, _meeting(workdir, seconds))
    if fmt == "wav":
        return wav
    encoded = wav.with_suffix(f".{fmt}")
    if not encoded.exists():
        codec = (
            ["-c:a", "libmp3lame"] if fmt == "mp3" else ["-c:a", "aac", "-movflags", "+faststart"]
        )
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(wav), *codec, "-b:a", "64k", str(encoded)],
            check=True,
        )
    return encoded


def _meeting(workdir: Path, seconds: float, seed: int = 18) -> npt.NDArray[np.float32]:
    rng = random.Random(seed)
    utterances = _utterances(workdir)
    total = int(seconds * SAMPLE_RATE)
    audio = np.zeros(total, dtype=np.float32)
    position = 0
    speaker = 0
    while position < total:
        speaker = rng.choice([s for s in range(len(_VOICES)) if s != speaker])
        turn = np.concatenate([rng.choice(utterances[speaker]) for _ in range(rng.randint(1, 3))])
        end = min(position + len(turn), total)
        audio[position:end] += turn[: end - position]
        if rng.random() < 0.2:
            position = end - int(rng.uniform(0.3, 1.2) * SAMPLE_RATE)  # the next one cuts in
        else:
            position = end + int(rng.uniform(0.2, 1.5) * SAMPLE_RATE)
    noise = np.random.default_rng(seed).normal(0.0, 0.01, total).astype(np.float32)
    mixed = audio + noise
    return np.clip(mixed / max(1.0, float(np.abs(mixed).max())), -1.0, 1.0)


def _utterances(workdir: Path) -> list[list[npt.NDArray[np.float32]]]:
    """Every sentence in every voice, as 16 kHz float samples (espeak-ng, resampled by sox)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None or shutil.which("sox") is None:
        raise SystemExit(
            "the processing cases need espeak-ng and sox: apt-get install espeak-ng sox"
        )
    voices: list[list[npt.NDArray[np.float32]]] = []
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        for number, (voice, pitch, speed) in enumerate(_VOICES):
            spoken = []
            for index, sentence in enumerate(_SENTENCES):
                raw = Path(scratch) / f"{number}-{index}.wav"
                resampled = raw.with_suffix(".16k.wav")
                subprocess.run(
                    [espeak, "-v", voice, "-p", pitch, "-s", speed, "-w", str(raw), sentence],
                    check=True,
                )
                subprocess.run(
                    ["sox", "-V1", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", str(resampled)],
                    check=True,
                )
                spoken.append(_read_wav(resampled))
            voices.append(spoken)
    return voices


def _read_wav(path: Path) -> npt.NDArray[np.float32]:
    with wave.open(str(path), "rb") as reader:
        frames = reader.readframes(reader.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def _write_wav(path: Path, samples: npt.NDArray[np.float32]) -> None:
    pcm = (samples * 32767.0).astype("<i2")
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())
