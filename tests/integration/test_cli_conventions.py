"""``ivrimeet`` behaves like its peers (aws, gh, huggingface-cli): version, global options
anywhere, one placeholder style, ``--json`` results, tables within 80 columns."""

from __future__ import annotations

import json
import logging
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ivrimeet.cli.errors import hoist_global_flags
from ivrimeet.cli.main import app

# NAME, [NAME] or REPO[@REVISION]: capitals, as aws, gh and huggingface-cli write them.
PLACEHOLDER = re.compile(r"^(\[?[A-Z][A-Z0-9_]*(\[@[A-Z]+\])?\]?)$")


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IVRIMEET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IVRIMEET_TMP_DIR", str(tmp_path))
    monkeypatch.delenv("S3_BUCKET", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_version_prints_the_installed_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"ivrimeet {version('ivrimeet')}"


def test_verbose_after_the_subcommand_logs_at_debug(local_env: Path) -> None:
    result = CliRunner().invoke(app, ["doctor", "--verbose"])
    assert result.exit_code == 0, result.output
    assert logging.getLogger().level == logging.DEBUG
    assert "No such option" not in result.output


def test_debug_after_the_subcommand_shows_the_traceback(local_env: Path) -> None:
    plain = CliRunner().invoke(app, ["models", "rm", "../bad", "--yes"])
    debug = CliRunner().invoke(app, ["models", "rm", "../bad", "--yes", "--debug"])
    assert plain.exit_code == 2 and "Error:" in plain.output
    assert debug.exception is not None and type(debug.exception).__name__ == "InvalidRepoIdError"


def test_global_flags_after_double_dash_stay_arguments() -> None:
    assert hoist_global_flags(["doctor", "--debug", "--", "--verbose"]) == [
        "--debug",
        "doctor",
        "--",
        "--verbose",
    ]


def _all_commands() -> list[tuple[str, typer.Context]]:
    root = typer.main.get_command(app)
    found = []

    def walk(command: object, path: str) -> None:
        found.append((path, typer.Context(command, info_name=path)))  # type: ignore[arg-type]
        if hasattr(command, "list_commands"):
            ctx = typer.Context(command)  # type: ignore[arg-type]
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}")

    walk(root, "ivrimeet")
    return found


def _commands_with_parameters() -> list[str]:
    return [
        path
        for path, ctx in _all_commands()
        if not hasattr(ctx.command, "list_commands") and path != "ivrimeet"
    ]


def test_every_command_is_checked_for_placeholders() -> None:
    # The parametrisation below is built from the app itself; this keeps it from
    # silently shrinking to nothing if the walk breaks.
    assert {"ivrimeet serve", "ivrimeet process", "ivrimeet worker", "ivrimeet models pull"} <= set(
        _commands_with_parameters()
    )


@pytest.mark.parametrize("path", _commands_with_parameters())
def test_placeholders_are_capitals(path: str) -> None:
    ctx = dict(_all_commands())[path]
    for param in ctx.command.params:
        if getattr(param, "is_flag", False) or param.name == "help":
            continue
        metavar = param.metavar
        assert metavar is not None and PLACEHOLDER.match(metavar), f"{path}: {param.name} {metavar}"


@pytest.mark.parametrize("path", _commands_with_parameters())
def test_help_shows_capital_placeholders(path: str) -> None:
    result = CliRunner().invoke(app, [*path.split()[1:], "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    # Typer wraps a required argument in braces and an optional one in brackets.
    for word in usage.split("[OPTIONS]", 1)[1].split():
        assert PLACEHOLDER.match(word.strip("{}")), f"{path}: {word}"
    options = result.output.split("Options", 1)[1]
    for default in ("<str>", "<int", "<float", "<path>", "<file>", "{"):
        assert default not in options, f"{path}: {default}"


def test_models_help_lists_every_models_command() -> None:
    result = CliRunner().invoke(app, ["models", "--help"], terminal_width=80)
    assert result.exit_code == 0
    for name in ("pull", "list", "verify", "rm", "gc", "warm", "export"):
        assert re.search(rf"\b{name}\b", result.output), name
    assert "pull, list, verify, rm, gc, warm, export" in result.output


@pytest.mark.parametrize(
    "args",
    [["doctor"], ["config"], ["models", "list"], ["models", "gc", "--dry-run"], ["db", "upgrade"]],
)
def test_json_results_parse(local_env: Path, args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


def test_every_result_command_takes_json() -> None:
    printing = {
        "ivrimeet config",
        "ivrimeet setup-bucket",
        "ivrimeet doctor",
        "ivrimeet db upgrade",
        "ivrimeet process",
        "ivrimeet models pull",
        "ivrimeet models list",
        "ivrimeet models verify",
        "ivrimeet models rm",
        "ivrimeet models gc",
        "ivrimeet models warm",
        "ivrimeet models export",
    }
    commands = dict(_all_commands())
    for path in printing:
        names = {p.name for p in commands[path].command.params}
        assert "as_json" in names or "json" in names or "json_output" in names, path


def test_config_table_fits_80_columns(local_env: Path) -> None:
    result = CliRunner().invoke(app, ["config"], terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
