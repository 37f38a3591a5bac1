"""``ivrimeet doctor``: one line per check, OK or what to fix; exit 1 if any check fails."""

from __future__ import annotations

import typer

from ivrimeet.cli.output import JsonOption, echo_json
from ivrimeet.cli.state import load_settings
from ivrimeet.errors import ConfigurationError
from ivrimeet.objects import (
    CheckResult,
    CheckStatus,
    data_dir_writable,
    free_disk,
    s3_checks,
)
from ivrimeet.runtime import object_store, s3_connection
from ivrimeet.settings import Settings

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Check settings, credentials, the bucket, every permission (tried for real) and disk."""
    try:
        settings = load_settings(ctx)
    except ConfigurationError as error:
        message = " ".join([error.summary, *error.details])
        failed = CheckResult("settings", CheckStatus.FAIL, message, "; ".join(error.hints))
        _report([failed], as_json=as_json)
        raise typer.Exit(1) from None
    results = [_settings_ok(settings)]
    if settings.uses_s3:
        results += s3_checks(s3_connection(settings), object_store(settings))
    else:
        results.append(data_dir_writable(settings.ivrimeet_data_dir))
    results.append(free_disk(settings.tmp_dir, settings.disk_warning_bytes))
    _report(results, as_json=as_json)
    if any(result.status is CheckStatus.FAIL for result in results):
        raise typer.Exit(1)


def _settings_ok(settings: Settings) -> CheckResult:
    if settings.uses_s3:
        where = f"S3 bucket {settings.s3_bucket}"
        if settings.s3_region:
            where += f" in {settings.s3_region}"
        if settings.s3_endpoint_url:
            where += f" at {settings.s3_endpoint_url}"
    else:
        where = f"local folder store in {settings.ivrimeet_data_dir} (S3_BUCKET unset)"
    return CheckResult("settings", CheckStatus.OK, f"valid; objects go to {where}")


def _report(results: list[CheckResult], *, as_json: bool) -> None:
    if as_json:
        echo_json(
            [
                {"check": r.name, "status": r.status.value, "message": r.message, "fix": r.fix}
                for r in results
            ]
        )
        return
    for result in results:
        _print(result)


def _print(result: CheckResult) -> None:
    line = f"{result.status.value:<4} {result.name}: {result.message}"
    if result.fix and result.status is not CheckStatus.OK:
        line += f" -> fix: {result.fix}"
    typer.echo(line)
