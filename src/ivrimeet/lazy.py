"""Package attributes imported on first use, so a process pays only for what it touches."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(namespace: dict[str, Any], modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``namespace`` (the package's ``globals()``): the first
    use of a name in ``modules`` imports the module given for it and keeps the value.

    Usage, in a package's ``__init__.py`` (names listed under ``TYPE_CHECKING`` too)::

        __getattr__ = lazy_attributes(globals(), {"S3Store": "ivrimeet.objects.s3"})
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
