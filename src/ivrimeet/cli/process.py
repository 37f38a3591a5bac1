"""``ivrimeet process FILE``: the whole pipeline on a local recording, with the configured store.

The file is uploaded to ``audio/<new id>/original.<ext>`` in the configured
object store (the local folder by default, S3 with ``S3_BUCKET``), the models
come from the model store, and the job is the worker's own
(``process_recording``). Prints the speakers (label, seconds, snippet key) as a
table, or everything as JSON with ``--json``. Logs go to stderr, and so does
progress: a bar on a terminal, otherwise a ``progress step=... percent=...``
line whenever it moves (at most every 5 s), which container logs keep.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ivrimeet.cli.state import load_settings

if TYPE_CHECKING:
    from ivrimeet.processing.job import ProcessingResult
    from ivrimeet.processing.progress import JobProgress

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("process")(process)


def process(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            metavar="FILE",
            help="A recording (WAV, MP3, M4A...).",
        ),
    ],
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Diarize a local recording: upload it, find speakers, store snippets and results."""
    from ivrimeet.media.sniff import SNIFF_BYTES, require_media
    from ivrimeet.processing.job import process_recording
    from ivrimeet.processing.models import ModelHolder
    from ivrimeet.processing.progress import JobProgress
    from ivrimeet.runtime import model_store, object_store

    settings = load_settings(ctx)
    with file.open("rb") as handle:
        media = require_media(handle.read(SNIFF_BYTES), name=str(file))
        meeting_id = uuid.uuid4().hex
        key = f"audio/{meeting_id}/original.{media.extension}"
        store = object_store(settings)
        handle.seek(0)
        store.put(key, handle, max_bytes=settings.max_upload_bytes, content_type=media.content_type)

    holder = ModelHolder(
        model_store(settings, store),
        pipeline_repo=settings.diarization_pipeline,
        encoder_repo=settings.embedding_model,
    )
    models = holder.get()
    with _progress_display(Console(stderr=True)) as (report, interval):
        progress = JobProgress(report, min_interval=interval)
        result = process_recording(
            store,
            meeting_id=meeting_id,
            run="cli",  # one run, no database: nothing else writes this new meeting
            recording_key=key,
            pipeline=models.pipeline,
            encoder=models.encoder,
            snippet_seconds=settings.snippet_seconds,
            match_threshold=settings.voiceprint_match_threshold,
            max_recording_seconds=settings.max_recording_seconds,
            progress=progress,
        )

    if as_json:
        typer.echo(json.dumps(_as_document(result, store.location, progress), indent=2))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # piped: keep whole keys on one line for grep and scripts
    table = Table("speaker", "seconds", "snippet", title=f"meeting {meeting_id}")
    for speaker in result.speakers:
        table.add_row(speaker.label, f"{speaker.seconds:.1f}", speaker.snippet_key or "(none)")
    console.print(table)
    console.print(
        f"{result.duration_seconds:.1f} s of audio, {len(result.speakers)} speaker(s); "
        f"results in {store.location}: {result.json_key}, {result.rttm_key}\n"
        f"job {result.timings.total_seconds:.1f} s, storage I/O "
        f"{result.timings.storage_seconds:.2f} s ({result.timings.storage_share:.1%})",
        highlight=False,
    )


@contextmanager
def _progress_display(
    console: Console,
) -> Iterator[tuple[Callable[[str, int], None], float]]:
    """``(report, min_interval)`` for ``JobProgress``: a rich bar, or lines if not a terminal."""
    if not console.is_terminal:

        def line(step: str, percent: int) -> None:
            print(f"progress step={step} percent={percent}", file=sys.stderr, flush=True)

        yield line, 5.0
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=100)

        def update(step: str, percent: int) -> None:
            bar.update(task, description=step, completed=percent)

        yield update, 0.2


def _as_document(result: ProcessingResult, location: str, progress: JobProgress) -> dict[str, Any]:
    return {
        "meeting_id": result.meeting_id,
        "store": location,
        "recording_key": result.recording_key,
        "duration_seconds": round(result.duration_seconds, 3),
        "speakers": [
            {
                "label": s.label,
                "seconds": s.seconds,
                "snippet_key": s.snippet_key,
                "snippet_seconds": s.snippet_seconds,
                "suggested_name": s.suggested_name,
            }
            for s in result.speakers
        ],
        "segments": [asdict(segment) for segment in result.segments],
        "rttm_key": result.rttm_key,
        "json_key": result.json_key,
        "timings": {
            "steps": dict(result.timings.steps),
            "storage_seconds": round(result.timings.storage_seconds, 3),
            "total_seconds": round(result.timings.total_seconds, 3),
            "storage_share": round(result.timings.storage_share, 4),
            # Inside "diarize": pyannote's segmentation, embeddings, clustering.
            "diarize_steps": {
                step: round(seconds, 3) for step, seconds in progress.diarization_seconds.items()
            },
        },
    }
