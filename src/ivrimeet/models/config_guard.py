"""Refuse model configs that would make a loader run code it should not.

Two files in a closure tell a library what to instantiate:

* a pyannote pipeline's ``config.yaml``: ``pipeline.name`` is imported and
  called, and so is every ``preprocessors.*.name``; model parameters name repos
  (or local paths, which would read files outside the cache);
* a SpeechBrain ``hyperparams.yaml``: HyperPyYAML, whose ``!new:``, ``!name:``,
  ``!apply:`` and ``!module:`` tags import and call any Python object named
  (``!apply:os.system ["…"]`` runs a shell command while the file is parsed),
  and whose ``!include:`` reads other files.

A tampered file in the bucket must not run code. ``check_pipeline_config`` and
``check_hyperparams`` read the YAML without constructing anything (PyYAML's
composer only builds nodes), resolve every named target the way the loader
will and check the object reached against an exact allowlist (``targets.py``:
``torch.nn.parallel.distributed.os.system`` is ``os.system``, whatever its
prefix), and raise ``InvalidInputError`` naming the first offending entry.
``!module:`` and ``!include:`` are refused outright, and so is a ``!ref`` that
reads an attribute (HyperPyYAML turns it into ``getattr``). The checks run
before any loader sees the file, on restore and on fill (a refused file is
never stored).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivrimeet.errors import InvalidInputError, InvalidRepoIdError
from ivrimeet.models.repo_ids import validate_repo_id
from ivrimeet.models.targets import TargetRefused, check_hyperparams_target, check_pipeline_class

if TYPE_CHECKING:
    import yaml

# PyYAML is imported by the functions that parse (~12 ms): a restore whose cache
# holds no config.yaml or hyperparams.yaml never pays for it.

__all__ = [
    "ALLOWED_PIPELINES",
    "check_hyperparams",
    "check_pipeline_config",
    "guard_cache",
    "model_repos_in_pipeline_config",
]

ALLOWED_PIPELINES = frozenset(
    {
        "pyannote.audio.pipelines.SpeakerDiarization",
        "pyannote.audio.pipelines.speaker_diarization.SpeakerDiarization",
        "pyannote.audio.pipelines.VoiceActivityDetection",
        "pyannote.audio.pipelines.SpeechSeparation",
    }
)
"""Pipeline paths a ``config.yaml`` may name (``pipeline.name``); each is then resolved
and must be one of ``targets.PIPELINE_CLASSES``."""

# Tags whose suffix HyperPyYAML hands to pydoc.locate, then constructs or calls.
_CODE_TAGS = ("!new:", "!name:", "!apply:", "!applyref:")
_REF_TAGS = frozenset({"!ref", "!copy"})
_SAFE_TAGS = frozenset({*_REF_TAGS, "!tuple"})
# "<model.attr>" in a !ref becomes "!apply:getattr [model, attr]" inside HyperPyYAML.
_REFERENCE = re.compile(r"<([^<>]*)>")
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp", "merge")
)
_PIPELINE_MODEL_KEYS = ("segmentation", "embedding", "plda")


def _refuse(source: str, problem: str) -> InvalidInputError:
    return InvalidInputError(
        f"Refusing {source}: {problem}.",
        hints=[
            "this file decides which Python code a loader runs; it was not written by "
            "the model's authors or has been tampered with",
            "if the bucket copy was changed, remove it (`ivrimeet models rm REPO@COMMIT`) "
            "and pull the model again from Hugging Face",
        ],
    )


def _compose(text: str, source: str) -> yaml.Node | None:
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _refuse(source, f"it is not valid YAML ({exc})") from exc


def _is_local_path_or_url(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~", "http:", "https:", "file:")) or "\\" in value


def check_pipeline_config(text: str, *, source: str = "config.yaml") -> dict[str, Any]:
    """Parse a pyannote pipeline config; raise unless it only names allowed classes and repos."""
    import yaml

    if _compose(text, source) is None:
        raise _refuse(source, "it is empty")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # e.g. a !!python/… tag, which safe_load will not build
        raise _refuse(source, f"it uses YAML a plain config does not need ({exc})") from exc
    if not isinstance(config, dict) or not isinstance(config.get("pipeline"), dict):
        raise _refuse(source, "it has no 'pipeline' section")
    name = config["pipeline"].get("name")
    if name not in ALLOWED_PIPELINES:
        raise _refuse(
            source, f"pipeline.name {str(name)[:200]!r} is not an allowed pyannote pipeline"
        )
    try:
        check_pipeline_class(name)
    except TargetRefused as exc:
        raise _refuse(source, f"pipeline.name {exc}") from exc
    if "preprocessors" in config:
        raise _refuse(source, "'preprocessors' may import any class or read local files")
    params = config["pipeline"].get("params", {})
    if not isinstance(params, dict):
        raise _refuse(source, "pipeline.params is not a mapping")
    for key in _PIPELINE_MODEL_KEYS:
        if key in params:
            _check_model_reference(params[key], f"pipeline.params.{key}", source)
    return config


def _check_model_reference(value: Any, where: str, source: str) -> None:
    if isinstance(value, dict):
        checkpoint = value.get("checkpoint")
        if not isinstance(checkpoint, str):
            raise _refuse(source, f"{where}.checkpoint is not a repo id")
        _check_model_reference(checkpoint, f"{where}.checkpoint", source)
        return
    if not isinstance(value, str):
        raise _refuse(source, f"{where} is neither a repo id nor '$model/…'")
    if value.startswith("$model/"):
        if ".." in value.split("/"):
            raise _refuse(source, f"{where} {value!r} leaves the repo")
        return
    if _is_local_path_or_url(value):
        raise _refuse(source, f"{where} {value[:200]!r} is a local path or URL, not a repo id")
    try:
        validate_repo_id(value)
    except InvalidRepoIdError as exc:
        raise _refuse(source, f"{where}: {exc.summary}") from exc


def model_repos_in_pipeline_config(config: dict[str, Any]) -> list[str]:
    """Repo ids a checked pipeline config names for its models (not ``$model/`` ones)."""
    params = config["pipeline"].get("params", {})
    repos: list[str] = []
    for key in _PIPELINE_MODEL_KEYS:
        value = params.get(key)
        if isinstance(value, dict):
            value = value.get("checkpoint")
        if isinstance(value, str) and not value.startswith("$model/"):
            repos.append(value)
    return repos


def check_hyperparams(text: str, *, source: str = "hyperparams.yaml") -> None:
    """Raise unless a HyperPyYAML file only instantiates allowed SpeechBrain / torch.nn targets."""
    import yaml

    root = _compose(text, source)
    if root is None:
        raise _refuse(source, "it is empty")
    _check_node(root, source)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if (
                key.value == "pretrained_path"
                and isinstance(value, yaml.ScalarNode)
                and _is_local_path_or_url(value.value)
            ):
                raise _refuse(source, f"pretrained_path {value.value[:200]!r} is not a repo id")


def _check_node(node: yaml.Node, source: str) -> None:
    import yaml

    tag = node.tag or ""
    if tag.startswith("!"):
        if tag.startswith(_CODE_TAGS):
            try:
                check_hyperparams_target(tag.split(":", 1)[1])
            except TargetRefused as exc:
                raise _refuse(source, f"{tag[:200]} would run {exc}") from exc
        elif tag.startswith("!module:"):
            raise _refuse(source, f"{tag[:200]} would import the module {tag[8:][:200]!r}")
        elif tag in _REF_TAGS and isinstance(node, yaml.ScalarNode):
            _check_reference(str(node.value), tag, source)
        elif tag not in _SAFE_TAGS:
            raise _refuse(source, f"tag {tag[:200]} is not allowed")
    elif tag not in _PLAIN_TAGS:
        # "!!python/object/apply:os.system" and friends arrive as tag:yaml.org,2002:python/…
        raise _refuse(source, f"tag {tag[:200]} is not allowed")
    if (
        isinstance(node, yaml.ScalarNode)
        and isinstance(node.value, str)
        and node.value.startswith(("http:", "https:", "file:"))
    ):
        raise _refuse(source, f"{node.value[:200]!r} would be fetched from outside the cache")
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _check_node(child, source)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _check_node(key, source)
            _check_node(value, source)


def _check_reference(value: str, tag: str, source: str) -> None:
    for reference in _REFERENCE.findall(value):
        if "." in reference:
            raise _refuse(
                source,
                f"{tag} {value[:200]!r} reads an attribute of an object "
                "(HyperPyYAML turns it into a getattr call)",
            )


def guard_cache(cache_dir: Path) -> int:
    """Check every ``config.yaml`` naming a pipeline and every ``hyperparams.yaml`` in a cache.

    Returns how many files were checked. Used on a restored cache before loading.
    """
    checked = 0
    for path in sorted(cache_dir.glob("models--*/snapshots/*/**/*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        source = str(path.relative_to(cache_dir))
        if path.name == "hyperparams.yaml":
            check_hyperparams(text, source=source)
            checked += 1
        elif path.name == "config.yaml" and _names_pipeline(text, source):
            check_pipeline_config(text, source=source)
            checked += 1
    return checked


def _names_pipeline(text: str, source: str) -> bool:
    import yaml

    node = _compose(text, source)
    if not isinstance(node, yaml.MappingNode):
        return False
    return any(key.value == "pipeline" for key, _ in node.value)
