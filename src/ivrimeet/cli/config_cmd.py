"""``ivrimeet config``: the effective configuration, secrets masked, with sources."""

from __future__ import annotations

import typer
from rich.table import Table

from ivrimeet.cli.output import JsonOption, echo_json, stdout
from ivrimeet.cli.state import load_settings
from ivrimeet.settings import describe_settings

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("config")(show_config)


def show_config(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Show every setting, its value (secrets masked) and where it came from."""
    settings = load_settings(ctx)
    if as_json:
        echo_json(describe_settings(settings))
        return
    table = Table("name", "value", "source", "meaning")
    for row in describe_settings(settings):
        table.add_row(row.name, row.value, row.source, row.description)
    stdout().print(table)
