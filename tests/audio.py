"""Test recordings made on the spot: two espeak-ng voices joined with ffmpeg, and non-audio.

Register with ``pytest_plugins`` for the session fixtures:

* ``two_voice_recordings`` (session): ``TwoVoiceRecording`` with the WAV, its
  MP3, Ogg/Vorbis and M4A (moov atom at the end) variants and its first 12 s,
  built once per session;
* ``two_voice_wav``: just the WAV path.

Plain functions for one-off files: ``write_two_voice_wav``, ``convert``,
``write_tone_wav``, ``write_lying_wav`` (a RIFF/WAVE header over text),
``write_text_file``, ``ffprobe_audio``.

The recording alternates a low male voice (``en-us``, pitch 25) and a high
female one (``en+f3``, pitch 75) with short pauses: about 40 s, where the first
voice speaks more than 15 s in all, so a snippet of it must be cut.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "LINES",
    "ProbedAudio",
    "TwoVoiceRecording",
    "convert",
    "ffprobe_audio",
    "two_voice_recordings",
    "two_voice_wav",
    "write_lying_wav",
    "write_text_file",
    "write_tone_wav",
    "write_two_voice_wav",
]

#: The two voices as espeak-ng arguments: (voice, pitch 0-99, words per minute).
VOICES = {
    "low": ("en-us", "25", "150"),
    "high": ("en+f3", "75", "175"),
}

#: Who says what, in order.
LINES: tuple[tuple[str, str], ...] = (
    (
        "low",
        "Good morning everyone, and thank you for joining the quarterly review. "
        "We have a lot to cover today, so let us start with the numbers "
        "from the last three months.",
    ),
    ("high", "Thanks. Revenue grew by twelve percent, mostly from the new subscription plans."),
    (
        "low",
        "That is better than we planned. What happened with the churn rate after the price change "
        "in September, and did the support team see more tickets?",
    ),
    ("high", "Churn stayed flat. Support tickets went down a little, which surprised us."),
    ("low", "Good. Then the next topic is hiring for the platform team."),
    ("high", "We have two open positions and three candidates in the final round."),
)

_PAUSE_SECONDS = 0.4
_SAMPLE_RATE = 16_000


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: apt-get install ffmpeg espeak-ng sox")
    return path


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{args[0]} failed ({result.returncode}): {result.stderr.decode()[-500:]}"
        )


def write_two_voice_wav(path: Path) -> Path:
    """Speak ``LINES`` with the two voices and join them, with pauses, into a 16 kHz mono WAV."""
    espeak = _require("espeak-ng")
    ffmpeg = _require("ffmpeg")
    parts = path.parent / f"{path.stem}-parts"
    parts.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    for index, (who, text) in enumerate(LINES):
        voice, pitch, speed = VOICES[who]
        part = parts / f"{index:02d}-{who}.wav"
        _run([espeak, "-v", voice, "-p", pitch, "-s", speed, "-w", str(part), text])
        inputs += ["-i", str(part)]
    pads = "".join(
        f"[{i}:a]aresample={_SAMPLE_RATE},apad=pad_dur={_PAUSE_SECONDS}[p{i}];"
        for i in range(len(LINES))
    )
    joined = "".join(f"[p{i}]" for i in range(len(LINES)))
    graph = f"{pads}{joined}concat=n={len(LINES)}:v=0:a=1[out]"
    _run(
        [
            *(ffmpeg, "-hide_banner", "-loglevel", "error", "-y", *inputs),
            *(
                "-filter_complex",
                graph,
                "-map",
                "[out]",
                "-ac",
                "1",
                "-c:a",
                "pcm_s16le",
                str(path),
            ),
        ]
    )
    shutil.rmtree(parts)
    return path


def convert(source: Path, target: Path, *codec_args: str) -> Path:
    """Re-encode ``source`` into ``target`` (format from the suffix, codec from ``codec_args``)."""
    ffmpeg = _require("ffmpeg")
    _run(
        [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(source),
            *codec_args,
            str(target),
        ]
    )
    return target


def write_tone_wav(
    path: Path, *, seconds: float, frequency: float = 440.0, sample_rate: int = 8000
) -> Path:
    """A sine tone as 16-bit mono WAV (no ffmpeg needed): known duration, any sample rate."""
    import math

    count = int(seconds * sample_rate)
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / sample_rate)))
        for n in range(count)
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(frames)
    return path


def write_lying_wav(path: Path) -> Path:
    """A RIFF/WAVE header over text: sniffs as audio, cannot be decoded."""
    body = b"this is not audio at all, only words pretending to be a recording\n" * 40
    header = (
        b"RIFF"
        + struct.pack("<I", 4 + len(body))
        + b"WAVE"
        + b"junk"
        + struct.pack("<I", len(body))
    )
    path.write_bytes(header + body)
    return path


def write_text_file(path: Path) -> Path:
    """Plain text with an audio-looking name."""
    path.write_text("Minutes of the meeting\n\n1. Numbers\n2. Hiring\n" * 20)
    return path


@dataclass(frozen=True)
class ProbedAudio:
    """What ffprobe says about a file: container, codec, seconds."""

    format_name: str
    codec_name: str
    duration: float


def ffprobe_audio(path_or_bytes: Path | bytes) -> ProbedAudio:
    """Probe a file (or bytes, via stdin) with ffprobe; fail the test unless it is valid audio."""
    ffprobe = _require("ffprobe")
    args = [
        ffprobe,
        "-v",
        "error",
        "-show_entries",
        "format=format_name,duration:stream=codec_name,codec_type",
    ]
    args += ["-of", "json"]
    if isinstance(path_or_bytes, Path):
        result = subprocess.run([*args, str(path_or_bytes)], capture_output=True, check=False)
    else:
        # From a file, not stdin: Ogg and MP4 durations need seeking to the end.
        with tempfile.NamedTemporaryFile(suffix=".probe") as handle:
            handle.write(path_or_bytes)
            handle.flush()
            result = subprocess.run([*args, handle.name], capture_output=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"ffprobe refused the audio: {result.stderr.decode()[-300:]}")
    data = json.loads(result.stdout)
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        pytest.fail(f"ffprobe found no audio stream: {data}")
    return ProbedAudio(
        format_name=data["format"]["format_name"],
        codec_name=audio[0]["codec_name"],
        duration=float(data["format"]["duration"]),
    )


@dataclass(frozen=True)
class TwoVoiceRecording:
    """The generated two-voice recording in several containers."""

    wav: Path
    mp3: Path
    ogg: Path
    m4a: Path
    short_wav: Path
    """The first 12 s (both voices, one turn each): for tests that run the models often."""


@pytest.fixture(scope="session")
def two_voice_recordings(tmp_path_factory: pytest.TempPathFactory) -> TwoVoiceRecording:
    """The two-voice recording as WAV, MP3, Ogg/Vorbis and M4A (moov at the end), built once."""
    folder = tmp_path_factory.mktemp("recordings")
    wav = write_two_voice_wav(folder / "two-voices.wav")
    return TwoVoiceRecording(
        wav=wav,
        mp3=convert(wav, folder / "two-voices.mp3", "-c:a", "libmp3lame", "-b:a", "64k"),
        ogg=convert(wav, folder / "two-voices.ogg", "-c:a", "libvorbis"),
        m4a=convert(wav, folder / "two-voices.m4a", "-c:a", "aac", "-b:a", "64k"),
        short_wav=convert(wav, folder / "two-voices-short.wav", "-t", "12"),
    )


@pytest.fixture(scope="session")
def two_voice_wav(two_voice_recordings: TwoVoiceRecording) -> Path:
    """The two-voice recording as a 16 kHz mono WAV."""
    return two_voice_recordings.wav
