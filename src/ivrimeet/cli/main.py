"""The ``ivrimeet`` command: the root Typer app and its command groups."""

from __future__ import annotations

import typer

from ivrimeet.cli import (
    config_cmd,
    db,
    doctor,
    iam_policy,
    models,
    process,
    serve,
    setup_bucket,
    worker,
)
from ivrimeet.cli.errors import IvrimeetGroup
from ivrimeet.cli.state import CliState

__all__ = ["app", "main"]

app = typer.Typer(
    cls=IvrimeetGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    help="ivrimeet: meeting recordings, speakers and voiceprints, models and audio in S3.",
)


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    ctx.obj = CliState(verbose=verbose, debug=debug)


serve.register(app)
config_cmd.register(app)
setup_bucket.register(app)
doctor.register(app)
iam_policy.register(app)
db.register(app)
worker.register(app)
process.register(app)
models.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
