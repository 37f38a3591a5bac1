"""Undo what pyannote.audio 4.0.7 writes into its own default arguments.

``SpeakerDiarization.__init__`` has dict defaults (``plda={"checkpoint":
"pyannote/speaker-diarization-community-1", "subfolder": "plda"}``, likewise
``segmentation`` and ``embedding``), and ``get_plda``/``get_model`` call
``setdefault("cache_dir", …)`` and ``setdefault("token", …)`` on them. The first
pipeline loaded in a process therefore pins the cache directory (and token) of
every later load that relies on a default: the second load reads the PLDA from
the first load's temporary cache, which has been deleted by then, so it is
downloaded again outside the new cache and missing from its closure, or, offline,
not found at all.

``reset_pipeline_defaults()`` removes those two keys from every dict default of
the pyannote pipeline classes; the loader calls it before each load (under the
Hugging Face session lock). ``tests/integration/test_model_store_pipeline.py``
shows the bug and fails when pyannote stops mutating its defaults.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["reset_pipeline_defaults"]

_INJECTED_KEYS = ("cache_dir", "token")


def reset_pipeline_defaults() -> int:
    """Strip injected keys from pyannote pipelines' dict defaults; returns how many were cleaned."""
    from pyannote.audio import pipelines

    cleaned = 0
    for _name, klass in inspect.getmembers(pipelines, inspect.isclass):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        defaults: tuple[Any, ...] = getattr(init, "__defaults__", None) or ()
        kwdefaults: dict[str, Any] = getattr(init, "__kwdefaults__", None) or {}
        for value in (*defaults, *kwdefaults.values()):
            if isinstance(value, dict) and "checkpoint" in value:
                for key in _INJECTED_KEYS:
                    if key in value:
                        del value[key]
                        cleaned += 1
    return cleaned
