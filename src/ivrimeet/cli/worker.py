"""``ivrimeet worker``: process meetings from the job queue until stopped."""

from __future__ import annotations

import typer

from ivrimeet.cli.state import load_settings

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker(
    ctx: typer.Context,
    threads: int = typer.Option(
        1,
        min=1,
        max=16,
        metavar="N",
        help="Jobs processed at once (each uses CPU and memory for the models).",
    ),
) -> None:
    """Process queued meetings: diarize, cut snippets, compute voiceprints.

    Uses the Redis queue with REDIS_URL (any number of workers on any machines),
    else the SQLite queue in IVRIMEET_DATA_DIR (workers on this machine).
    SIGTERM lets jobs in progress finish; SIGINT stops at once.
    """
    from ivrimeet.worker import run_worker

    run_worker(load_settings(ctx), threads=threads)
