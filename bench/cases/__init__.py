"""The benchmark cases. Each module here registers its cases with ``register``.

To add a case: create ``bench/cases/<topic>.py`` with a ``prepare(ctx, size)``
that makes the data and returns the tools to time (ivrimeet with
``reference=False``, the tools it is compared with ``reference=True``), then
``register(Case(...))``. ``bench/run.py`` imports every module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil

from bench.harness import Case

CASES: dict[str, Case] = {}


def register(case: Case) -> Case:
    if case.name in CASES:
        raise ValueError(f"benchmark case {case.name!r} registered twice")
    CASES[case.name] = case
    return case


def discover() -> dict[str, Case]:
    """Import every case module; returns the registry (in registration order)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return CASES
