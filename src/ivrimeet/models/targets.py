"""Resolve the Python objects a model config names, the way its loader will, and allow few.

A config file names code by a dotted path. What runs is not the path but the
object the loader reaches by it, and loaders walk module attributes:
HyperPyYAML resolves ``!new:``/``!name:``/``!apply:``/``!applyref:`` targets with
``pydoc.locate``, so ``torch.nn.parallel.distributed.os.system`` *is*
``os.system`` (``distributed`` imports ``os``), and a name whose first part is
no module falls back to ``builtins`` (``eval``). A prefix check on the string
cannot see that; this module resolves the object and checks what it is:

1. the path must be dotted identifiers under a library the loader uses anyway
   (``torch``, ``speechbrain``; ``pyannote`` for pipelines), so nothing else is
   ever imported to check it;
2. modules are imported as the loader would (longest importable prefix), then
   the rest is walked with ``getattr``; reaching a module through an attribute
   (``distributed.os``) or a private name (``__init__``, ``_x``) is refused;
3. the object reached must be on an exact allowlist of ``__module__`` +
   ``__qualname__`` (the place it is defined, whatever path led to it).
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = [
    "HYPERPARAMS_TARGETS",
    "PIPELINE_CLASSES",
    "TargetRefused",
    "check_hyperparams_target",
    "check_pipeline_class",
    "locate",
]

HYPERPARAMS_TARGETS = frozenset(
    {
        # What speaker-embedding hyperparams.yaml files instantiate (ECAPA, x-vector, ResNet).
        "speechbrain.lobes.features.Fbank",
        "speechbrain.processing.features.InputNormalization",
        "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
        "speechbrain.lobes.models.ECAPA_TDNN.Classifier",
        "speechbrain.lobes.models.Xvector.Xvector",
        "speechbrain.lobes.models.Xvector.Classifier",
        "speechbrain.lobes.models.ResNet.ResNet",
        "speechbrain.lobes.models.ResNet.Classifier",
        "speechbrain.dataio.encoder.CategoricalEncoder",
        "speechbrain.utils.parameter_transfer.Pretrainer",
        # Building blocks a hyperparams file may pass as arguments (activation=!name:…).
        "torch.nn.modules.linear.Linear",
        "torch.nn.modules.linear.Identity",
        "torch.nn.modules.conv.Conv1d",
        "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.batchnorm.BatchNorm1d",
        "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.normalization.LayerNorm",
        "torch.nn.modules.activation.ReLU",
        "torch.nn.modules.activation.LeakyReLU",
        "torch.nn.modules.activation.PReLU",
        "torch.nn.modules.activation.Sigmoid",
        "torch.nn.modules.activation.Tanh",
        "torch.nn.modules.activation.Softmax",
        "torch.nn.modules.activation.LogSoftmax",
        "torch.nn.modules.dropout.Dropout",
        "torch.nn.modules.container.Sequential",
        "torch.nn.modules.container.ModuleList",
        "torch.nn.modules.container.ModuleDict",
        "torch.nn.modules.rnn.LSTM",
        "torch.nn.modules.rnn.GRU",
        "torch.nn.modules.sparse.Embedding",
        "torch.nn.modules.pooling.AdaptiveAvgPool1d",
        "torch.nn.modules.pooling.MaxPool1d",
        "torch.nn.modules.pooling.AvgPool1d",
    }
)
"""Where each object a ``hyperparams.yaml`` may construct or call is defined (module.qualname).

Deliberately not "anything in speechbrain": ``speechbrain.utils.superpowers.run_shell``
runs shell commands and ``speechbrain.utils.fetching`` downloads from any URL.
"""

PIPELINE_CLASSES = frozenset(
    {
        "pyannote.audio.pipelines.speaker_diarization.SpeakerDiarization",
        "pyannote.audio.pipelines.voice_activity_detection.VoiceActivityDetection",
        "pyannote.audio.pipelines.speech_separation.SpeechSeparation",
    }
)
"""Where each pipeline class a ``config.yaml`` may name is defined (module.qualname)."""

_HYPERPARAMS_ROOTS = frozenset({"torch", "speechbrain"})


class TargetRefused(Exception):  # internal: config_guard turns it into InvalidInputError
    """A config names an object that is not allowed; the message says why."""


def _canonical(obj: object) -> str:
    return f"{getattr(obj, '__module__', None)}.{getattr(obj, '__qualname__', None)}"


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # "__path__ attribute not found on 'torch.nn.parallel.distributed'": not a package.
        return False


def _walk(obj: object, path: str, attributes: list[str]) -> object:
    """``getattr`` along ``attributes``; refuse private names and modules reached by attribute."""
    for name in attributes:
        if name.startswith("_"):
            raise TargetRefused(f"{path!r} reaches the private attribute {name!r}")
        try:
            obj = getattr(obj, name)
        except AttributeError as exc:
            raise TargetRefused(f"{path!r} does not exist") from exc
        if isinstance(obj, ModuleType):
            raise TargetRefused(
                f"{path!r} reaches the module {obj.__name__!r} through an attribute"
            )
    return obj


def _dotted(path: str) -> list[str]:
    parts = path.split(".")
    if not path or not all(part.isidentifier() for part in parts):
        raise TargetRefused(f"{path[:200]!r} is not a dotted Python name")
    return parts


def locate(path: str, roots: frozenset[str]) -> object:
    """The object ``pydoc.locate(path)`` returns, importing only modules under ``roots``."""
    parts = _dotted(path)
    if parts[0] not in roots:
        # pydoc would import any module named, or fall back to builtins (eval, exec).
        raise TargetRefused(f"{path[:200]!r} is outside {', '.join(sorted(roots))}")
    found = 1
    while found < len(parts) and _is_module(".".join(parts[: found + 1])):
        found += 1
    module = importlib.import_module(".".join(parts[:found]))
    return _walk(module, path, parts[found:])


def check_hyperparams_target(path: str) -> None:
    """Raise ``TargetRefused`` unless HyperPyYAML would reach an allowed object by ``path``."""
    obj = locate(path, _HYPERPARAMS_ROOTS)
    if _canonical(obj) not in HYPERPARAMS_TARGETS:
        raise TargetRefused(f"{path[:200]!r} is {_canonical(obj)[:200]}, which is not allowed")


def check_pipeline_class(path: str) -> None:
    """Raise ``TargetRefused`` unless pyannote would reach an allowed pipeline class by ``path``.

    pyannote imports everything before the last dot and takes the last part as
    an attribute (``pyannote.core.utils.helper.get_class_by_name``).
    """
    parts = _dotted(path)
    if len(parts) < 2 or parts[0] != "pyannote":
        raise TargetRefused(f"{path[:200]!r} is not a pyannote class")
    module_name = ".".join(parts[:-1])
    if not _is_module(module_name):
        raise TargetRefused(f"{path[:200]!r} does not name a module and a class in it")
    obj = _walk(importlib.import_module(module_name), path, parts[-1:])
    if _canonical(obj) not in PIPELINE_CLASSES:
        raise TargetRefused(f"{path[:200]!r} is {_canonical(obj)[:200]}, which is not allowed")
