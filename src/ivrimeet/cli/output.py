"""How commands print results: JSON for scripts, tables that fit the terminal."""

from __future__ import annotations

import dataclasses
import enum
import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["JsonOption", "echo_json", "stdout"]

JsonOption = typer.Option(False, "--json", help="Print the result as JSON, for scripts.")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def echo_json(value: Any) -> None:
    """``value`` (dataclasses, lists, dicts, paths) as one JSON document on stdout."""
    typer.echo(json.dumps(_plain(value), indent=2))


@cache
def stdout() -> Console:
    """The console for results: the terminal's width (80 columns when not a terminal).

    Tables wrap their cells to that width; plain lines are not wrapped (paths stay whole).
    """
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
