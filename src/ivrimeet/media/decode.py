"""Decode a recording straight from the object store into 16 kHz mono float32 samples in memory.

ffmpeg does the decoding and reads the object itself; nothing is written to
local disk. Where ffmpeg's input comes from, in order:

1. ``url``: the store hands out an ``http(s)`` presigned URL (S3). ffmpeg reads
   it with ranged GETs, so containers that must seek (an M4A whose ``moov`` atom
   sits at the end, as phones write them) decode too. The URL is a secret for
   its lifetime: it is never logged and is scrubbed from ffmpeg's messages. When
   ffmpeg cannot read it (an S3-compatible server that refuses presigned URLs),
   decoding falls back to the pipe.
2. ``file``: the local folder store already keeps the object as a file, which
   ffmpeg opens and seeks in directly.
3. ``pipe``: ``store.get(key)`` streamed into ffmpeg's stdin by a thread. Works
   with any store; containers that need to seek backwards fail with a hint.

ffmpeg may open only the protocols the chosen input needs
(``-protocol_whitelist``) and only audio/video demuxers (``-format_whitelist``),
so a crafted upload (an HLS playlist inside an AVI, a concat list) cannot make
it fetch other URLs or read local files.

Memory: the decoded samples, 64 000 bytes per second of audio (230 MB per
hour); ``max_seconds`` bounds it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt

from ivrimeet.errors import ConfigurationError, SizeLimitError
from ivrimeet.media.ffmpeg_reasons import ffmpeg_reason, undecodable
from ivrimeet.objects import LocalStore, ObjectStore

__all__ = [
    "SAMPLE_RATE",
    "DecodedAudio",
    "InputKind",
    "decode_recording",
    "find_tool",
    "probe_duration",
]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""Samples per second of decoded audio: what PyAnnote and SpeechBrain models expect."""

InputKind = Literal["url", "file", "pipe"]

_BYTES_PER_SAMPLE = 4  # float32
_READ_CHUNK = 1024 * 1024
_STDERR_TAIL_LINES = 20
_URL_EXPIRES_SECONDS = 3600
_HTTP_TIMEOUT_MICROSECONDS = 30_000_000
# ffmpeg retries a failed read after 1, 2, 4 s before giving up on the URL (~4 s refused).
_RECONNECT_DELAY_MAX_SECONDS = 4

# Demuxers ffmpeg may use: containers of recordings, nothing that reads playlists or lists.
_FORMATS = ",".join(
    [
        "wav",
        "w64",
        "mp3",
        "ogg",
        "flac",
        "mov,mp4,m4a,3gp,3g2,mj2",
        "matroska,webm",
        "aac",
        "amr",
        "amrnb",
        "amrwb",
        "aiff",
        "asf",
        "caf",
        "au",
        "flv",
        "avi",
        "mpeg",
        "mpegts",
        "wv",
        "ape",
        "ac3",
    ]
)
_PROTOCOLS: dict[InputKind, str] = {
    "url": "http,https,tcp,tls,crypto",
    "file": "file",
    "pipe": "pipe",
}
# ffmpeg messages that mean "could not fetch the URL", as opposed to "could not decode".
_URL_TROUBLE = re.compile(
    r"Server returned|HTTP error|Connection refused|Connection timed out|"
    r"Failed to resolve|End of file|Input/output error|Protocol not found",
    re.IGNORECASE,
)


@dataclass(frozen=True, eq=False)
class DecodedAudio:
    """A decoded recording: mono float32 samples in [-1, 1] and how decoding went."""

    samples: npt.NDArray[np.float32]
    sample_rate: int
    source: InputKind
    wall_seconds: float
    cpu_seconds: float
    decoder_messages: tuple[str, ...] = ()
    """What ffmpeg complained about although it decoded (damaged frames), free of URLs."""

    @property
    def duration_seconds(self) -> float:
        """Length of the audio."""
        return len(self.samples) / self.sample_rate

    @property
    def wait_seconds(self) -> float:
        """ffmpeg's wall time not spent on its CPU: mostly waiting for the object's bytes."""
        return max(0.0, self.wall_seconds - self.cpu_seconds)


@dataclass(frozen=True)
class _Input:
    kind: InputKind
    argument: str
    secret: str | None = None


@dataclass
class _Run:
    returncode: int
    stdout: bytearray
    stderr: list[str]
    wall_seconds: float
    cpu_seconds: float
    feed_error: BaseException | None = None
    cut_at_limit: bool = False


def decode_recording(
    store: ObjectStore,
    key: str,
    *,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    ffmpeg: str = "ffmpeg",
) -> DecodedAudio:
    """Decode the object at ``key`` to mono float32 at ``sample_rate``, entirely in memory.

    Raises ``ObjectNotFoundError`` (no such object), ``UnsupportedMediaError``
    (not decodable audio, with ffmpeg's reason), ``SizeLimitError`` (longer than
    ``max_seconds``), storage errors from the store, ``ConfigurationError``
    (ffmpeg missing).
    """
    executable = find_tool(ffmpeg)
    info = store.head(key)
    source = _input_for(store, key)
    max_bytes = None if max_seconds is None else int(max_seconds * sample_rate) * _BYTES_PER_SAMPLE
    output = ["-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1"]
    run = _run_ffmpeg(executable, store, key, source, output, max_bytes)
    if run.returncode != 0 and source.kind == "url" and _URL_TROUBLE.search("\n".join(run.stderr)):
        logger.warning(
            "media.decode.fallback key=%s from=url to=pipe reason=%s",
            key,
            ffmpeg_reason(run.stderr, source.secret),
        )
        source = _Input("pipe", "pipe:0")
        run = _run_ffmpeg(executable, store, key, source, output, max_bytes)
    if run.feed_error is not None:
        raise run.feed_error
    if run.cut_at_limit:
        raise SizeLimitError(
            f"The recording is longer than the limit of {max_seconds:.0f} seconds.",
            details=[f"recording {key}"],
            hints=["split the recording, or raise MAX_RECORDING_SECONDS"],
        )
    samples = np.frombuffer(run.stdout, dtype="<f4")
    # ffmpeg can exit 0 having decoded nothing (an unreadable MP4 index, no audio track).
    if run.returncode != 0 or samples.size == 0:
        raise undecodable(
            key, run.stderr or ["it holds no audio samples"], source.kind, source.secret
        )
    decoded = DecodedAudio(
        samples=samples.astype(np.float32, copy=False),
        sample_rate=sample_rate,
        source=source.kind,
        wall_seconds=run.wall_seconds,
        cpu_seconds=run.cpu_seconds,
        # Shown to the user: the file path or URL of the input is replaced too.
        decoder_messages=tuple(
            ffmpeg_reason([line], source.secret or source.argument) for line in run.stderr
        ),
    )
    logger.info(
        "media.decoded key=%s source=%s bytes=%d audio_seconds=%.2f seconds=%.3f "
        "ffmpeg_cpu_seconds=%.3f",
        key,
        source.kind,
        info.size,
        decoded.duration_seconds,
        decoded.wall_seconds,
        decoded.cpu_seconds,
    )
    return decoded


def probe_duration(store: ObjectStore, key: str, *, ffprobe: str = "ffprobe") -> float | None:
    """Seconds of media the container of ``key`` declares, or None when it declares none.

    Containers written by a live recorder (a browser's WebM) often carry no
    duration; decode to learn it then. Raises as ``decode_recording`` does.
    """
    executable = find_tool(ffprobe)
    store.head(key)
    source = _input_for(store, key)
    entries = ["-show_entries", "format=duration", "-of", "default=noprint_wrappers=1:nokey=1"]
    run = _run_ffmpeg(executable, store, key, source, entries, None, probe=True)
    if run.returncode != 0 and source.kind == "url" and _URL_TROUBLE.search("\n".join(run.stderr)):
        source = _Input("pipe", "pipe:0")
        run = _run_ffmpeg(executable, store, key, source, entries, None, probe=True)
    if run.feed_error is not None:
        raise run.feed_error
    if run.returncode != 0:
        raise undecodable(key, run.stderr, source.kind, source.secret)
    text = run.stdout.decode("ascii", errors="replace").strip()
    try:
        return float(text)
    except ValueError:
        return None


# --- choosing the input ---------------------------------------------------------------


def find_tool(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ConfigurationError(
            f"{tool} is not installed or not on PATH; it is needed to decode and encode audio.",
            hints=["install it: apt-get install ffmpeg (Debian/Ubuntu) or brew install ffmpeg"],
        )
    return path


def _input_for(store: ObjectStore, key: str) -> _Input:
    if isinstance(store, LocalStore):
        return _Input("file", str(Path(store.url_for(key))))
    url = store.presign_get(key, _URL_EXPIRES_SECONDS)
    if url.startswith(("https://", "http://")):
        return _Input("url", url, secret=url)
    return _Input("pipe", "pipe:0")


def _input_options(source: _Input) -> list[str]:
    options = ["-protocol_whitelist", _PROTOCOLS[source.kind], "-format_whitelist", _FORMATS]
    if source.kind == "url":
        options += [
            "-rw_timeout",
            str(_HTTP_TIMEOUT_MICROSECONDS),
            "-reconnect",
            "1",
            "-reconnect_on_network_error",
            "1",
            "-reconnect_on_http_error",
            "5xx",
            "-reconnect_delay_max",
            str(_RECONNECT_DELAY_MAX_SECONDS),
        ]
    return [*options, "-i", source.argument]


# --- running ffmpeg -------------------------------------------------------------------


def _run_ffmpeg(
    executable: str,
    store: ObjectStore,
    key: str,
    source: _Input,
    output: list[str],
    max_bytes: int | None,
    *,
    probe: bool = False,
) -> _Run:
    """Run ffmpeg (or ffprobe) on ``source``: its stdout, the tail of stderr, its CPU time."""
    args = [executable, "-hide_banner", "-loglevel", "error"]
    if not probe:
        # ffmpeg reads keyboard commands from stdin unless told not to (and stdin is the pipe).
        args += ["-nostats"] if source.kind == "pipe" else ["-nostats", "-nostdin"]
    args += [*_input_options(source), *output]
    started = time.monotonic()
    process = subprocess.Popen(
        args,
        stdin=subprocess.PIPE if source.kind == "pipe" else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr_tail: deque[str] = deque(maxlen=_STDERR_TAIL_LINES)
    threads = [_thread(_collect_lines, process.stderr, stderr_tail)]
    feed_errors: list[BaseException] = []
    if source.kind == "pipe":
        assert process.stdin is not None
        threads.append(_thread(_feed, store, key, process.stdin, feed_errors))
    stdout = bytearray()
    cut = False
    try:
        while chunk := process.stdout.read(_READ_CHUNK):
            stdout += chunk
            if max_bytes is not None and len(stdout) > max_bytes:
                cut = True
                process.kill()
                break
        for thread in threads:
            thread.join()
        returncode, cpu = _wait(process)
    finally:
        if process.returncode is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    return _Run(
        returncode=returncode,
        stdout=stdout,
        stderr=list(stderr_tail),
        wall_seconds=time.monotonic() - started,
        cpu_seconds=cpu,
        feed_error=feed_errors[0] if feed_errors else None,
        cut_at_limit=cut,
    )


def _thread(target: Callable[..., None], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True, name="ffmpeg-io")
    thread.start()
    return thread


def _collect_lines(stream: IO[bytes], tail: deque[str]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip()
        if line:
            tail.append(line)


def _feed(store: ObjectStore, key: str, stdin: IO[bytes], errors: list[BaseException]) -> None:
    """Copy the object into ffmpeg's stdin; ffmpeg closing its end early is not an error."""
    try:
        with store.get(key) as body:
            while chunk := body.read(_READ_CHUNK):
                stdin.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # ffmpeg stopped reading: it has what it needs, or it failed and says why.
    except Exception as exc:  # noqa: BLE001  # handed to the calling thread, which re-raises it
        errors.append(exc)
    finally:
        with suppress(BrokenPipeError):
            stdin.close()


def _wait(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Reap the child with ``wait4`` to get its exit code and the CPU seconds it used."""
    if process.returncode is not None:
        # Already reaped: Popen.kill() polls first, reaping a child that just exited.
        return process.returncode, 0.0
    _, status, usage = os.wait4(process.pid, 0)
    returncode = os.waitstatus_to_exitcode(status)
    process.returncode = returncode
    return returncode, usage.ru_utime + usage.ru_stime
