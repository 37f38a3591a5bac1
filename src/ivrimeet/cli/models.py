"""``ivrimeet models pull|list|verify|rm|gc|warm|export``: the model store from the command line.

Every command starts by removing temporary caches of dead processes
(``runtime.model_store`` sweeps). Transfers show Rich progress bars on a
terminal; the model store only sees ``TransferEvents`` callbacks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer

from ivrimeet.cli.state import load_settings
from ivrimeet.errors import IntegrityError
from ivrimeet.models import (
    EncoderLoader,
    ModelKind,
    ModelStore,
    PipelineLoader,
    collect_garbage,
    export_model,
    list_models,
    pull,
    remove_model,
    verify_models,
)
from ivrimeet.runtime import model_store
from ivrimeet.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

# Rich is imported where something is drawn: `models export --no-progress` (scripts,
# image builds) never loads it (~45 ms of start-up).

__all__ = ["RichTransferEvents", "register", "register_export"]

models_app = typer.Typer(
    no_args_is_help=True,
    help="Models in the bucket: pre-warm, inspect, verify, remove, collect garbage.",
)


@cache
def _stdout() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


KindOption = Literal["auto", "pipeline", "encoder", "snapshot"]


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def register_export(app: typer.Typer) -> None:
    """Only ``models export`` (``ivrimeet.cli.main``'s lean path for that command)."""
    only = typer.Typer(no_args_is_help=True, help=models_app.info.help)
    only.command("export")(export_command)
    app.add_typer(only, name="models")


class RichTransferEvents:
    """``TransferEvents`` drawn as one Rich progress bar per phase (thread-safe)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def started(self, phase: str, label: str, files: int, total_bytes: int) -> None:
        with self._lock:
            self._task = self._progress.add_task(
                f"{phase} {label} ({files} files)", total=total_bytes
            )

    def advanced(self, byte_count: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, byte_count)

    def finished(self) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.stop_task(self._task)
            self._task = None


@contextmanager
def _store(ctx: typer.Context, *, progress: bool) -> Iterator[tuple[Settings, ModelStore]]:
    settings = load_settings(ctx)
    if not progress:
        yield settings, model_store(settings)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with bars:
        yield settings, model_store(settings, events=RichTransferEvents(bars))


def _kind_for(settings: Settings, repo: str, kind: KindOption) -> ModelKind | None:
    """The kind asked for; with ``auto``, what the service will load it as, if it loads it."""
    if kind != "auto":
        return kind
    if repo == settings.diarization_pipeline:
        return "pipeline"
    if repo == settings.embedding_model:
        return "encoder"
    return None


def _split(spec: str) -> tuple[str, str | None]:
    repo, _, commit = spec.partition("@")
    return repo, commit or None


@models_app.command("pull")
def pull_command(
    ctx: typer.Context,
    repo: str = typer.Argument(..., help="Hugging Face repo id (pyannote/speaker-diarization-3.1)"),
    revision: str | None = typer.Option(None, help="Branch, tag or commit (default: main)."),
    refresh: bool = typer.Option(
        False, "--refresh", help="Ask Hugging Face for the revision's newest commit and store it."
    ),
    kind: str = typer.Option(
        "auto",
        help="Loader whose closure to store: pipeline, encoder, snapshot, or auto: "
        "what the repo's files call for (config.yaml with a 'pipeline' key: pipeline; "
        "hyperparams.yaml: encoder; else snapshot), and pipeline for DIARIZATION_PIPELINE, "
        "encoder for EMBEDDING_MODEL. A repo stored as a kind that lacks the files "
        "needed is an error saying what to run.",
    ),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Store a model in the bucket (deploy-time pre-warming)."""
    if kind not in ("auto", "pipeline", "encoder", "snapshot"):
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind")
    with _store(ctx, progress=progress) as (settings, store):
        result = pull(
            store,
            repo,
            revision,
            kind=_kind_for(settings, repo, cast(KindOption, kind)),
            refresh=refresh,
        )
    manifest = result.manifest
    where = f"{result.repo}@{result.revision} -> {manifest.commit}"
    if result.report is None:
        _stdout().print(
            f"{where}: already in {store.location} "
            f"({len(manifest.files)} files, {manifest.total_bytes} bytes)"
        )
        return
    report = result.report
    _stdout().print(
        f"{where}: stored from {'Hugging Face' if report.source == 'hf' else 'the bucket'} "
        f"({report.files} files, {report.bytes} bytes, {report.seconds:.1f} s)"
    )


@models_app.command("list")
def list_command(
    ctx: typer.Context,
    repo: str | None = typer.Argument(None, help="Only this repo."),
) -> None:
    """List stored models: repo, revisions -> commit, files, bytes, created."""
    with _store(ctx, progress=False) as (_, store):
        models = list_models(store, repo)
    if not models:
        _stdout().print(f"No models stored in {store.location}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("repo", "revisions", "commit", "kind", "files", "bytes", "created")
    for model in models:
        table.add_row(
            model.repo,
            ", ".join(model.revisions) or "-",
            model.commit,
            model.kind,
            str(model.files),
            str(model.bytes),
            model.created,
        )
    Console(width=200).print(table)


@models_app.command("verify")
def verify_command(
    ctx: typer.Context,
    repo: str | None = typer.Argument(None, help="Only this repo's blobs."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Re-hash every stored blob; exits non-zero if one is missing or corrupt."""
    with _store(ctx, progress=progress) as (_, store):
        report = verify_models(store, repo)
    if report.problems:
        raise IntegrityError(
            f"{len(report.problems)} of {report.blobs} blobs in {store.location} are "
            "missing or corrupt.",
            details=[f"{p.key}: {p.problem}" for p in report.problems],
            hints=[
                "loading the model heals each bad blob from Hugging Face automatically "
                "(`ivrimeet models warm` or `ivrimeet models pull REPO --refresh`)",
                "or remove the model (`ivrimeet models rm REPO`) and pull it again",
            ],
        )
    _stdout().print(
        f"OK: {report.blobs} blobs ({report.bytes} bytes) of {report.manifests} "
        "manifests hash to their names."
    )


@models_app.command("rm")
def rm_command(
    ctx: typer.Context,
    spec: str = typer.Argument(..., metavar="REPO[@COMMIT]", help="What to remove."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a model's manifest(s) and refs; `models gc` then frees its blobs."""
    repo, commit = _split(spec)
    if not yes:
        typer.confirm(f"Remove {spec} from the bucket?", abort=True)
    with _store(ctx, progress=False) as (_, store):
        removed = remove_model(store, repo, commit)
    if not removed:
        _stdout().print(f"Nothing stored for {spec}.")
        return
    for key in removed:
        _stdout().print(f"removed {store.objects.url_for(key)}")
    _stdout().print("Run `ivrimeet models gc` to delete blobs no other model uses.")


@models_app.command("gc")
def gc_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be deleted."),
    grace_hours: float = typer.Option(
        24.0, help="Keep unreferenced blobs younger than this (fills in progress)."
    ),
) -> None:
    """Delete blobs no manifest references (older than the grace period) and expired leases."""
    with _store(ctx, progress=False) as (_, store):
        report = collect_garbage(store, grace_seconds=grace_hours * 3600, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for key in report.deleted:
        _stdout().print(f"{verb} {store.objects.url_for(key)}")
    _stdout().print(
        f"{verb} {len(report.deleted)} blobs ({report.deleted_bytes} bytes); "
        f"kept {report.spared_young} younger than {grace_hours:g} h; "
        f"removed {len(report.leases_removed)} expired leases."
    )


@models_app.command("warm")
def warm_command(
    ctx: typer.Context,
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Load the configured pipeline and speaker encoder; say where each came from."""
    with _store(ctx, progress=progress) as (settings, store):
        reports = [
            store.load(PipelineLoader(), settings.diarization_pipeline).report,
            store.load(EncoderLoader(), settings.embedding_model).report,
        ]
    from rich.console import Console
    from rich.table import Table

    table = Table("model", "kind", "commit", "source", "files", "bytes", "seconds")
    for report in reports:
        table.add_row(
            report.repo,
            report.kind,
            report.commit,
            "bucket" if report.source == "s3" else "Hugging Face",
            str(report.files),
            str(report.bytes),
            f"{report.seconds:.2f}",
        )
    Console(width=200).print(table)


@models_app.command("export")
def export_command(
    ctx: typer.Context,
    spec: Annotated[
        str,
        typer.Argument(
            metavar="REPO[@REVISION]", help="Stored model (revision: branch, tag or commit)."
        ),
    ],
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="New or empty directory to write the Hugging Face cache into."
        ),
    ],
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Restore a stored model from the bucket into DIR as a Hugging Face cache, and keep it.

    The whole closure (every repo the loader reads) is written as
    DIR/models--org--name/{blobs,snapshots,refs}, each file verified against the
    manifest (BLAKE3; SHA-256 for older manifests), with the same restore path
    cold starts use. Use it with
    HF_HUB_CACHE=DIR (or cache_dir=DIR) and HF_HUB_OFFLINE=1.
    """
    repo, revision = _split(spec)
    with _store(ctx, progress=progress) as (_, store):
        result = export_model(store, repo, revision, directory)
    # Plain text: importing Rich for one line would cost this command ~25 ms.
    typer.echo(
        f"{result.repo}@{result.revision} -> {result.commit}: exported to {result.directory} "
        f"({len(result.repos)} repos, {result.files} files, {result.bytes} bytes, "
        f"{result.seconds:.2f} s)"
    )
