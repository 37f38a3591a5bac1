"""The root command group: global options anywhere, and ``IvrimeetError`` as message + exit code."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from ivrimeet.errors import IvrimeetError

__all__ = ["GLOBAL_FLAGS", "IvrimeetGroup", "hoist_global_flags"]


# The root command's own flags; like `aws` and `gh`, they may follow the subcommand too.
GLOBAL_FLAGS = frozenset({"--verbose", "-v", "--debug"})


class IvrimeetGroup(TyperGroup):
    """A command group that turns ``IvrimeetError`` into ``Error: ...`` and an exit code.

    With ``--debug`` the traceback is shown instead. ``--verbose`` and ``--debug``
    are accepted after the subcommand as well (``ivrimeet doctor --verbose``).
    """

    # ``ctx`` is typer's vendored click Context, which typer does not export (its
    # module is private), hence ``Any``.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:
            args = hoist_global_flags(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
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


def hoist_global_flags(args: list[str]) -> list[str]:
    """``args`` with the global flags moved to the front (none is taken from after ``--``)."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    return flags + [a for a in args[:end] if a not in GLOBAL_FLAGS] + args[end:]
