"""How the CLI reports an ``IvrimeetError``: the message on stderr, the class's exit code."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from ivrimeet.errors import IvrimeetError

__all__ = ["IvrimeetGroup"]


class IvrimeetGroup(TyperGroup):
    """A command group that turns ``IvrimeetError`` into ``Error: ...`` and an exit code.

    With ``--debug`` on the root command the traceback is shown instead.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except IvrimeetError as exc:
            root = ctx.find_root()
            if root.params.get("debug"):
                raise
            from rich.console import Console  # only when there is an error to show

            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"Error: {exc}", markup=False
            )
            raise typer.Exit(exc.exit_code) from None
