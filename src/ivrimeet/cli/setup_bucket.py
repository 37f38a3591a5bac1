"""``ivrimeet setup-bucket BUCKET [--region REGION] [--create-user NAME]``: prepare a bucket."""

from __future__ import annotations

import typer

from ivrimeet.cli.output import JsonOption, echo_json
from ivrimeet.cli.state import load_settings
from ivrimeet.errors import ConfigurationError
from ivrimeet.objects import CreatedUser, StepStatus, setup_bucket
from ivrimeet.runtime import s3_connection

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("setup-bucket")(setup_bucket_command)


def setup_bucket_command(
    ctx: typer.Context,
    bucket: str = typer.Argument(..., metavar="BUCKET", help="Bucket to create or check."),
    region: str | None = typer.Option(
        None, "--region", metavar="REGION", help="Region the bucket lives in (default: S3_REGION)."
    ),
    create_user: str | None = typer.Option(
        None,
        "--create-user",
        metavar="NAME",
        help="Also create an IAM user with the least-privilege policy and print its keys once.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create BUCKET if missing, block public access, encrypt by default, abort stale uploads.

    Each step prints applied, already or skipped (with the reason, when the server
    does not support it). Credentials and S3_ENDPOINT_URL come from the usual settings.
    """
    settings = load_settings(ctx)
    region = region or settings.s3_region
    if region is None:
        raise ConfigurationError(
            f"No region for bucket {bucket}.",
            hints=["pass --region REGION, or set S3_REGION"],
        )
    settings = settings.replace(s3_bucket=bucket, s3_region=region)
    report = setup_bucket(s3_connection(settings), create_user=create_user)
    if as_json:
        # The new key goes to stdout once either way: this is the one time it exists outside IAM.
        echo_json(report)
        return
    width = max(len(step.step) for step in report.steps)
    for step in report.steps:
        typer.echo(f"{step.status.value:<8} {step.step:<{width}}  {step.detail}")
    if report.created_user is not None:
        _print_keys_once(report.created_user)
    skipped = sum(step.status is StepStatus.SKIPPED for step in report.steps)
    typer.echo(f"Bucket {bucket} is ready" + (f" ({skipped} step(s) skipped)." if skipped else "."))


def _print_keys_once(user: CreatedUser) -> None:
    # stdout only, never a log line: this is the one time the secret exists outside IAM.
    typer.echo(
        f"\nAccess key of IAM user {user.name} (shown only now: store it in your secret manager):"
    )
    typer.echo(f"AWS_ACCESS_KEY_ID={user.access_key_id}")
    typer.echo(f"AWS_SECRET_ACCESS_KEY={user.secret_access_key}")
