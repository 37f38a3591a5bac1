"""``process-*``: ``ivrimeet process`` vs plain pyannote.audio on a long meeting, real-size models.

Both tools run on the same MP3 (``processing_recordings``: espeak-ng voices,
pauses, overlaps, noise) with the same random-weight models at the published
sizes (``tests.hubrepos.realsize``), served by a Hub stand-in of the bench's own:

* ``ivrimeet process FILE --json``: upload to the bench bucket, models from
  the bucket's model store, decode, diarize, snippets, voiceprints (ECAPA
  1024), results in S3 — the whole job;
* plain pyannote (``processing_plain.py``): ``Pipeline.from_pretrained`` then
  ``pipeline(FILE)``, the code a user writes — diarization only. Its FILE is the
  MP3 already decoded to 16 kHz float WAV (untimed, a favour to pyannote): on
  an MP3, pyannote 4.0.7's torchcodec decoding stops with "resulted in 158895
  samples instead of the expected 160000", and ffmpeg's decoding is the one
  ivrimeet uses, so both tools diarize the same samples.

Sizes are seconds of audio (the "MiB" columns: 1 MiB = 1 s, so MiB/s is
seconds of audio per second). The table's ratio is whole process against
whole process (imports and model loading included on both sides). After each
pair of runs the case prints each step's seconds and the headline ratio of the
issue: plain pyannote's diarization alone ÷ ivrimeet's whole job, and whether
the RTTMs are identical (same turns to the millisecond; labels and uri aside). Each tool first runs
once on 12 s of the meeting (untimed) so models are in the bucket and the
Hugging Face cache; then no warm-up (the runs are minutes long).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers.hub import TEST_TOKEN

from bench.cases import register
from bench.cases.processing_recordings import meeting_recording
from bench.harness import BENCH_DIR, Case, Context, Target, Tool

PIPELINE = "pyannote/speaker-diarization-3.1"
ENCODER = "speechbrain/spkrec-ecapa-voxceleb"
# The harness counts bytes; here one "MiB" is one second of audio, so its MiB/s
# column reads as seconds of audio processed per second of wall time.
AUDIO_SECOND = 1024 * 1024


_HUBS: dict[Path, str] = {}


def _hub(ctx: Context) -> str:
    """A stand-in Hub with the real-size repos (one per bench run); its endpoint."""
    from tests.hubrepos import build_real_size_repos, publish_repos
    from tests.servers.hub import run_hub

    if ctx.workdir not in _HUBS:
        stack = contextlib.ExitStack()
        atexit.register(stack.close)
        folders = build_real_size_repos(ctx.workdir / "real-size-repos")
        hub = stack.enter_context(run_hub(ctx.workdir / "real-size-hub"))
        publish_repos(hub, folders)
        _HUBS[ctx.workdir] = hub.endpoint
    return _HUBS[ctx.workdir]


def ivrimeet_executable() -> str:
    return shutil.which("ivrimeet") or str(Path(sys.executable).with_name("ivrimeet"))


def server_env(ctx: Context) -> dict[str, str]:
    """What an ivrimeet process gets: the bench bucket, the real-size Hub, the published ids."""
    return {
        "S3_BUCKET": ctx.server.bucket,
        "S3_ENDPOINT_URL": ctx.server.endpoint,
        "S3_REGION": "us-east-1",
        "HF_ENDPOINT": _hub(ctx),
        "HF_TOKEN": TEST_TOKEN,
        "HF_HOME": str(ctx.workdir / "hf-home"),
        "DIARIZATION_PIPELINE": PIPELINE,
        "EMBEDDING_MODEL": ENCODER,
        "IVRIMEET_DATA_DIR": str(ctx.workdir / "process-data"),
        "IVRIMEET_TMP_DIR": str(ctx.workdir),
        "PYANNOTE_METRICS_ENABLED": "0",
        "LOG_LEVEL": "WARNING",
    }


def _warm_clip(recording: Path) -> Path:
    warm = recording.with_name("warm-12s.mp3")
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(recording), "-t", "12", "-c", "copy", str(warm)],
        check=True,
    )
    return warm


def _run_untimed(ctx: Context, command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=ctx.server.env(**env), capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stderr.decode()[-3000:]}")


def warm_models(ctx: Context, recording: Path, env: dict[str, str]) -> None:
    """``ivrimeet process`` on 12 s of ``recording``: the models are in the bucket after it."""
    _run_untimed(ctx, _ivrimeet_command(ctx, _warm_clip(recording), ctx.workdir / "w.json"), env)


def _ivrimeet_command(ctx: Context, recording: Path, out: Path) -> list[str]:
    ivrimeet = ivrimeet_executable()
    # sh only redirects the JSON; launch.py's wait4 counts ivrimeet's CPU and RSS.
    return ["sh", "-c", f'exec "{ivrimeet}" process "{recording}" --json > "{out}"']


def _plain_command(ctx: Context, recording: Path, out: Path) -> list[str]:
    return [ctx.python, str(BENCH_DIR / "cases" / "processing_plain.py"), str(recording), str(out)]


def _decoded(recording: Path) -> Path:
    """``recording`` as ivrimeet's decoder sees it (ffmpeg, mono 16 kHz float), in a WAV."""
    wav = recording.with_suffix(".decoded.wav")
    output = ["-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_f32le", str(wav)]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(recording), *output], check=True)
    return wav


def _turns(rttm: str) -> list[tuple[str, str]]:
    """(start, duration) of each turn, sorted: what must match across the two tools."""
    return sorted((fields[3], fields[4]) for fields in (line.split() for line in rttm.splitlines()))


def _report(ctx: Context, ours_file: Path, plain_file: Path) -> None:
    if not (ours_file.exists() and plain_file.exists()):
        return
    ours = json.loads(ours_file.read_text())
    plain = json.loads(plain_file.read_text())
    client = ctx.server.client()
    rttm = client.get_object(Bucket=ctx.server.bucket, Key=ours["rttm_key"])["Body"].read().decode()
    timings = ours["timings"]
    job = timings["total_seconds"]
    print(
        f"    ivrimeet job {job:.1f} s: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings["steps"].items())
        + "; inside diarize: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings["diarize_steps"].items())
        + f"; storage I/O {timings['storage_seconds']:.1f} s"
    )
    print(
        f"    plain pyannote: load {plain['load_seconds']:.1f} s, diarization "
        f"{plain['diarize_seconds']:.1f} s: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in plain["steps"].items())
    )
    same = _turns(rttm) == _turns(plain["rttm"])
    print(
        f"    plain diarization / ivrimeet whole job = {plain['diarize_seconds'] / job:.2f}x "
        f"(target >= 2.5); RTTM turns identical: {same} "
        f"({len(_turns(rttm))} vs {len(_turns(plain['rttm']))} turns)",
        flush=True,
    )
    ours_file.unlink()
    plain_file.unlink()


def prepare(ctx: Context, size: int) -> list[Tool]:
    seconds = size // AUDIO_SECOND
    recording = meeting_recording(ctx.workdir / "recordings", seconds, "mp3")
    decoded = _decoded(recording)
    env = server_env(ctx)
    ours_file = ctx.workdir / f"ivrimeet-{seconds}.json"
    plain_file = ctx.workdir / f"plain-{seconds}.json"
    warm_models(ctx, recording, env)
    warm = _decoded(recording.with_name("warm-12s.mp3"))
    _run_untimed(ctx, _plain_command(ctx, warm, ctx.workdir / "w.json"), env)

    return [
        Tool(
            "ivrimeet process (whole job)",
            _ivrimeet_command(ctx, recording, ours_file),
            reference=False,
            env=env,
            after=lambda: _report(ctx, ours_file, plain_file),
        ),
        Tool(
            "plain pyannote (diarization)",
            _plain_command(ctx, decoded, plain_file),
            reference=True,
            env=env,
            after=lambda: _report(ctx, ours_file, plain_file),
        ),
    ]


for minutes, quick_minutes in ((10, 2), (60, 10)):
    register(
        Case(
            name=f"process-{minutes}min",
            description=f"{minutes} min meeting (MP3): ivrimeet process vs plain pyannote",
            full_bytes=minutes * 60 * AUDIO_SECOND,
            quick_bytes=quick_minutes * 60 * AUDIO_SECOND,
            prepare=prepare,
            target=Target(min_ratio=2.5),
            warm_up=False,
        )
    )
