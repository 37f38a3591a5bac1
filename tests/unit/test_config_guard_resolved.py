"""The config guard checks the object a target resolves to, not the target's spelling.

HyperPyYAML resolves ``!new:``/``!name:``/``!apply:``/``!applyref:`` with
``pydoc.locate``, which walks module attributes and falls back to ``builtins``:
each hostile line below would run code under the real loader, and each is refused
without running anything.
"""

from __future__ import annotations

import os
import pydoc
from pathlib import Path

import pytest
from hyperpyyaml import load_hyperpyyaml

from ivrimeet.errors import InvalidInputError
from ivrimeet.models.config_guard import (
    ALLOWED_PIPELINES,
    check_hyperparams,
    check_pipeline_config,
)
from ivrimeet.models.targets import (
    HYPERPARAMS_TARGETS,
    PIPELINE_CLASSES,
    TargetRefused,
    check_hyperparams_target,
    locate,
)

BYPASS = "torch.nn.parallel.distributed.os.system"

HOSTILE = [
    # the bypass found by the adversarial run: an allowed-looking prefix, os.system underneath
    f'x: !apply:{BYPASS} ["touch MARKER"]',
    f'x: !name:{BYPASS} ["touch MARKER"]',
    'x: !apply:torch.nn.modules.module.functools.partial ["touch MARKER"]',
    'x: !apply:speechbrain.utils.superpowers.subprocess.run [["touch", "MARKER"]]',
    'x: !apply:speechbrain.lobes.features.torch.hub.load ["MARKER"]',
    # builtins: pydoc falls back to them when the first part is no module
    "x: !apply:eval [\"__import__('os').system('touch MARKER')\"]",
    "x: !apply:exec [\"__import__('os').system('touch MARKER')\"]",
    "x: !apply:builtins.exec [\"__import__('os').system('touch MARKER')\"]",
    'x: !apply:importlib.import_module ["os"]',
    'x: !new:subprocess.Popen [["touch", "MARKER"]]',
    'x: !apply:pydoc.locate ["os.system"]',
    'x: !apply:operator.attrgetter ["system"]',
    # functools.partial chains: a partial of a partial of os.system
    'x: !new:functools.partial [!name:functools.partial [!name:os.system ["touch MARKER"]]]',
    'x: !apply:torch.nn.modules.module.functools.reduce [!name:os.system , ["touch MARKER"]]',
    # private names lead to globals, closures and the interpreter
    "x: !apply:torch.nn.Linear.__init__.__globals__.get [os]",
    "x: !apply:torch.nn.Linear.forward",
    # !applyref resolves its target with pydoc.locate too
    'x: !applyref:os.system ["touch MARKER"]',
    'x: !applyref:torch.nn.parallel.distributed.os.system ["touch MARKER"]',
    # !ref indirection: an attribute read becomes a getattr call inside HyperPyYAML
    "lin: !new:torch.nn.Linear [1, 1]\nx: !ref <lin.forward>",
    "lin: !new:torch.nn.Linear [1, 1]\nx: !copy <lin.__class__>",
    # a refused object stays refused when referenced from elsewhere
    'cmd: !name:os.system ["touch MARKER"]\nx: !ref <cmd>',
    "x: !module:os",
]


def test_the_bypass_really_is_os_system() -> None:
    # Why a prefix allowlist was not enough (and what the guard must see through).
    assert pydoc.locate(BYPASS) is os.system


@pytest.mark.parametrize("line", HOSTILE)
def test_hostile_targets_are_refused_without_running_anything(
    line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(InvalidInputError, match=r"Refusing hyperparams\.yaml"):
        check_hyperparams(line + "\n")

    assert list(tmp_path.iterdir()) == []


def test_the_headline_bypass_runs_under_the_real_loader_but_not_through_the_guard(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    hostile = f'x: !apply:{BYPASS} ["touch {marker}"]\n'

    with pytest.raises(InvalidInputError, match="reaches the module 'os' through an attribute"):
        check_hyperparams(hostile)
    assert not marker.exists()

    load_hyperpyyaml(hostile)  # what the guard prevents: the loader runs the command
    assert marker.exists()


@pytest.mark.parametrize("canonical", sorted(HYPERPARAMS_TARGETS))
def test_every_allowed_target_resolves_to_itself_as_pydoc_would(canonical: str) -> None:
    check_hyperparams_target(canonical)
    assert locate(canonical, frozenset({"torch", "speechbrain"})) is pydoc.locate(canonical)


@pytest.mark.parametrize(
    "alias",
    ["torch.nn.Linear", "torch.nn.LeakyReLU", "speechbrain.nnet.containers.torch.nn.Linear"],
)
def test_public_aliases_of_allowed_objects_pass_unless_they_cross_a_module_attribute(
    alias: str,
) -> None:
    if ".containers.torch." in alias:
        with pytest.raises(TargetRefused, match="through an attribute"):
            check_hyperparams_target(alias)
    else:
        check_hyperparams_target(alias)


def test_a_speechbrain_function_that_runs_shell_commands_is_refused() -> None:
    with pytest.raises(TargetRefused, match="run_shell, which is not allowed"):
        check_hyperparams_target("speechbrain.utils.superpowers.run_shell")


@pytest.mark.parametrize("name", sorted(ALLOWED_PIPELINES))
def test_every_allowed_pipeline_name_resolves_to_an_allowed_class(name: str) -> None:
    config = check_pipeline_config(
        f"pipeline:\n  name: {name}\n  params:\n    segmentation: org/seg\n"
    )

    assert config["pipeline"]["name"] == name
    klass = pydoc.locate(name)
    assert f"{klass.__module__}.{klass.__qualname__}" in PIPELINE_CLASSES  # type: ignore[union-attr]
