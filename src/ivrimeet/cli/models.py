"""``ivrimeet models pull|list|verify|rm|gc|warm|export``: the model store from the command line.

Every command starts by removing temporary caches of dead processes
(``runtime.model_store`` sweeps). Transfers show Rich progress bars on a
terminal (``cli/progress.py``); the model store only sees ``TransferEvents``
callbacks. Every command that prints a result takes ``--json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal, cast

import typer

from ivrimeet.cli.output import JsonOption, echo_json, stdout
from ivrimeet.cli.state import load_settings, log_level
from ivrimeet.errors import IntegrityError, UnavailableError
from ivrimeet.models import (
    EncoderLoader,
    ModelKind,
    ModelStore,
    PipelineLoader,
    collect_garbage,
    export_model,
    list_models,
    origin_phrase,
    pull,
    remove_model,
    verify_models,
)
from ivrimeet.runtime import model_store, secret_values
from ivrimeet.settings import Settings

# Rich is imported where something is drawn: `models export --no-progress` (scripts,
# image builds) never loads it (~45 ms of start-up).

__all__ = ["register", "register_export"]

models_app = typer.Typer(
    no_args_is_help=True,
    help="Models in the bucket: pull, list, verify, rm, gc, warm, export.",
)

ProgressOption = typer.Option(True, help="Show progress bars.")

KindOption = Literal["auto", "pipeline", "encoder", "snapshot"]


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")


def register_export(app: typer.Typer) -> None:
    """Only ``models export`` (``ivrimeet.cli.main``'s lean path for that command)."""
    only = typer.Typer(no_args_is_help=True, help=models_app.info.help)
    only.command("export")(export_command)
    app.add_typer(only, name="models")


@contextmanager
def _store(ctx: typer.Context, *, progress: bool) -> Iterator[tuple[Settings, ModelStore]]:
    settings = load_settings(ctx)
    if not progress:
        yield settings, model_store(settings)
        return
    from ivrimeet.cli.progress import RichTransferEvents, transfer_bars

    with transfer_bars(log_level(ctx, settings), secret_values(settings)) as bars:
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
    repo: str = typer.Argument(
        ..., metavar="REPO", help="Hugging Face repo id (pyannote/speaker-diarization-3.1)."
    ),
    revision: str | None = typer.Option(
        None, metavar="REVISION", help="Branch, tag or commit (default: main)."
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="Ask Hugging Face for the revision's newest commit and store it."
    ),
    kind: str = typer.Option(
        "auto",
        metavar="KIND",
        help="Loader whose closure to store: pipeline, encoder, snapshot, or auto: "
        "what the repo's files call for (config.yaml with a 'pipeline' key: pipeline; "
        "hyperparams.yaml: encoder; else snapshot), and pipeline for DIARIZATION_PIPELINE, "
        "encoder for EMBEDDING_MODEL. A repo stored as a kind that lacks the files "
        "needed is an error saying what to run.",
    ),
    progress: bool = ProgressOption,
    as_json: bool = JsonOption,
) -> None:
    """Store a model in the bucket (deploy-time pre-warming)."""
    if kind not in ("auto", "pipeline", "encoder", "snapshot"):
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind")
    with _store(ctx, progress=progress and not as_json) as (settings, store):
        result = pull(
            store,
            repo,
            revision,
            kind=_kind_for(settings, repo, cast(KindOption, kind)),
            refresh=refresh,
        )
    manifest = result.manifest
    report = result.report
    if as_json:
        echo_json(
            {
                "repo": result.repo,
                "revision": result.revision,
                "commit": manifest.commit,
                "already_stored": report is None,
                "origin": None if report is None else report.origin,
                "files": len(manifest.files),
                "bytes": manifest.total_bytes,
                "seconds": None if report is None else report.seconds,
            }
        )
        return
    where = f"{result.repo}@{result.revision} -> {manifest.commit}"
    if report is None:
        stdout().print(
            f"{where}: already in {store.location} "
            f"({len(manifest.files)} files, {manifest.total_bytes} bytes)"
        )
        return
    stdout().print(
        f"{where}: stored {origin_phrase(report.origin)} "
        f"({report.files} files, {report.bytes} bytes, {report.seconds:.1f} s)"
    )


@models_app.command("list")
def list_command(
    ctx: typer.Context,
    repo: str | None = typer.Argument(None, metavar="[REPO]", help="Only this repo."),
    as_json: bool = JsonOption,
) -> None:
    """List stored models: repo, revisions -> commit, files, bytes, created."""
    with _store(ctx, progress=False) as (_, store):
        models = list_models(store, repo)
    if as_json:
        echo_json(models)
        return
    if not models:
        stdout().print(f"No models stored in {store.location}")
        return
    # One block per model rather than a table: a 40-character commit (copied into
    # `models rm REPO@COMMIT`) leaves too little of 80 columns for six more columns.
    for model in models:
        stdout().print(f"{model.repo}", markup=False)
        stdout().print(
            f"  {', '.join(model.revisions) or '-'} -> {model.commit}\n"
            f"  {model.kind}, {model.files} files, {model.bytes} bytes, created {model.created}",
            markup=False,
        )


@models_app.command("verify")
def verify_command(
    ctx: typer.Context,
    repo: str | None = typer.Argument(None, metavar="[REPO]", help="Only this repo's blobs."),
    progress: bool = ProgressOption,
    as_json: bool = JsonOption,
) -> None:
    """Re-hash every stored blob; exits non-zero if one is missing or corrupt."""
    with _store(ctx, progress=progress and not as_json) as (_, store):
        report = verify_models(store, repo)
    if as_json:
        echo_json(report)
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
    if not as_json:
        stdout().print(
            f"OK: {report.blobs} blobs ({report.bytes} bytes) of {report.manifests} "
            "manifests hash to their names."
        )


@models_app.command("rm")
def rm_command(
    ctx: typer.Context,
    spec: str = typer.Argument(..., metavar="REPO[@COMMIT]", help="What to remove."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = JsonOption,
) -> None:
    """Remove a model's manifest(s) and refs; `models gc` then frees its blobs."""
    repo, commit = _split(spec)
    if not yes:
        typer.confirm(f"Remove {spec} from the bucket?", abort=True)
    with _store(ctx, progress=False) as (_, store):
        removed = remove_model(store, repo, commit)
    if as_json:
        echo_json({"removed": [store.objects.url_for(key) for key in removed]})
        return
    if not removed:
        stdout().print(f"Nothing stored for {spec}.")
        return
    for key in removed:
        stdout().print(f"removed {store.objects.url_for(key)}")
    stdout().print("Run `ivrimeet models gc` to delete blobs no other model uses.")


@models_app.command("gc")
def gc_command(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be deleted."),
    grace_hours: float = typer.Option(
        24.0, metavar="HOURS", help="Keep unreferenced blobs younger than this (fills in progress)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Delete blobs no manifest references (older than the grace period) and expired leases."""
    with _store(ctx, progress=False) as (_, store):
        report = collect_garbage(store, grace_seconds=grace_hours * 3600, dry_run=dry_run)
    if as_json:
        echo_json(report)
        return
    verb = "would delete" if dry_run else "deleted"
    for key in report.deleted:
        stdout().print(f"{verb} {store.objects.url_for(key)}")
    stdout().print(
        f"{verb} {len(report.deleted)} blobs ({report.deleted_bytes} bytes); "
        f"kept {report.spared_young} younger than {grace_hours:g} h; "
        f"removed {len(report.leases_removed)} expired leases."
    )


@models_app.command("warm")
def warm_command(
    ctx: typer.Context,
    require_bucket: bool = typer.Option(
        False,
        "--require-bucket",
        help="Exit non-zero if a model had to come from Hugging Face (deploy checks): "
        "the bucket, the folder store without S3_BUCKET and the local blob cache "
        "(MODEL_CACHE_MAX_BYTES) all count as the model store.",
    ),
    progress: bool = ProgressOption,
    as_json: bool = JsonOption,
) -> None:
    """Load the configured pipeline and speaker encoder; say where each came from."""
    with _store(ctx, progress=progress and not as_json) as (settings, store):
        reports = [
            store.load(PipelineLoader(), settings.diarization_pipeline).report,
            store.load(EncoderLoader(), settings.embedding_model).report,
        ]
    if as_json:
        echo_json(
            [
                {
                    "model": r.repo,
                    "kind": r.kind,
                    "commit": r.commit,
                    "origin": r.origin,
                    "location": r.location,
                    "files": r.files,
                    "bytes": r.bytes,
                    "seconds": r.seconds,
                }
                for r in reports
            ]
        )
    else:
        # Blocks, as `models list` prints: a repo id and a 40-character commit leave
        # too little of 80 columns for a table's other columns.
        for report in reports:
            stdout().print(
                f"{report.repo}\n"
                f"  {report.kind} @ {report.commit[:12]} {origin_phrase(report.origin)}\n"
                f"  {report.files} files, {report.bytes} bytes, {report.seconds:.2f} s",
                markup=False,
            )
    elsewhere = [r.repo for r in reports if not r.from_bucket]
    if require_bucket and elsewhere:
        raise UnavailableError(
            f"Not every model came from the bucket {store.location}: "
            f"{', '.join(elsewhere)} loaded from Hugging Face.",
            details=["the model.bucket_unavailable or model.stored log lines above say why"],
            hints=[
                "run `ivrimeet doctor` to check the bucket's settings and permissions",
                "if the model was simply not stored yet, it is now: run the check again",
            ],
        )


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
    progress: bool = ProgressOption,
    as_json: bool = JsonOption,
) -> None:
    """Restore a stored model from the bucket into DIR as a Hugging Face cache, and keep it.

    The whole closure (every repo the loader reads) is written as
    DIR/models--org--name/{blobs,snapshots,refs}, each file verified against the
    manifest (BLAKE3; SHA-256 for older manifests), with the same restore path
    cold starts use. Use it with
    HF_HUB_CACHE=DIR (or cache_dir=DIR) and HF_HUB_OFFLINE=1.
    """
    repo, revision = _split(spec)
    with _store(ctx, progress=progress and not as_json) as (_, store):
        result = export_model(store, repo, revision, directory)
    if as_json:
        echo_json(result)
        return
    # Plain text: importing Rich for one line would cost this command ~25 ms.
    typer.echo(
        f"{result.repo}@{result.revision} -> {result.commit}: exported to {result.directory} "
        f"({len(result.repos)} repos, {result.files} files, {result.bytes} bytes, "
        f"{result.seconds:.2f} s)"
    )
