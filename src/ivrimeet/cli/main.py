"""The ``ivrimeet`` command: the root Typer app and its command groups.

The app is built on first use (``app``, ``main()``): importing every command
group pulls in SQLAlchemy, FastAPI, Huey... (~0.8 s), which
``ivrimeet models export`` does not need, so ``main()`` gives that command an
app holding only the ``models`` group's export (same options, same errors).
"""

from __future__ import annotations

import sys

import typer

from ivrimeet.cli.errors import IvrimeetGroup
from ivrimeet.cli.state import CliState

__all__ = ["app", "build_app", "main"]

app: typer.Typer  # the full app, built by __getattr__ on first use


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"ivrimeet {version('ivrimeet')}")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed version and exit.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log at DEBUG level."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
) -> None:
    ctx.obj = CliState(verbose=verbose, debug=debug)


def _new_app() -> typer.Typer:
    root = typer.Typer(
        cls=IvrimeetGroup,
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
        help="ivrimeet: meeting recordings, speakers and voiceprints, models and audio in S3.",
    )
    root.callback()(_root)
    return root


def build_app() -> typer.Typer:
    """The root app with every command group."""
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

    root = _new_app()
    serve.register(root)
    config_cmd.register(root)
    setup_bucket.register(root)
    doctor.register(root)
    iam_policy.register(root)
    db.register(root)
    worker.register(root)
    process.register(root)
    models.register(root)
    return root


def __getattr__(name: str) -> typer.Typer:
    # ``from ivrimeet.cli.main import app`` builds the full app once (tests, CliRunner).
    if name == "app":
        built = build_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:3] == ["models", "export"]:
        from ivrimeet.cli import models

        lean = _new_app()
        models.register_export(lean)
        lean()
        return
    __getattr__("app")()
