"""``ivrimeet db upgrade``: bring the metadata database's schema to this version's head.

The API and workers also do this at start; the command is for deploy pipelines
that migrate before rolling out new processes.
"""

from __future__ import annotations

import typer

from ivrimeet import db
from ivrimeet.cli.output import JsonOption, echo_json
from ivrimeet.cli.state import load_settings

__all__ = ["register"]

group = typer.Typer(no_args_is_help=True, help="The metadata database (SQLite or PostgreSQL).")


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="db")


@group.command("upgrade")
def upgrade(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Apply every pending migration (safe to run while other processes start)."""
    settings = load_settings(ctx)
    url = (
        settings.database_url.get_secret_value()
        if settings.database_url is not None
        else db.sqlite_url(settings.ivrimeet_data_dir)
    )
    database = db.Database(url)
    try:
        before = db.current_revision(database)
        head = db.upgrade(database)
    finally:
        database.dispose()
    if as_json:
        echo_json({"database": database.label, "before": before, "head": head})
    elif before == head:
        typer.echo(f"{database.label}: already at {head}")
    else:
        typer.echo(f"{database.label}: upgraded {before or 'empty'} -> {head}")
