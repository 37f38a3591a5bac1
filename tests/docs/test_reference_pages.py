"""The documentation site: generated reference pages cover the code, and it builds strictly."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import ivrimeet.errors as errors
from ivrimeet.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_reference", ROOT / "docs/_hooks/reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


reference = _reference()


def test_every_setting_has_a_description_on_the_configuration_page() -> None:
    table = reference.settings_markdown()
    for field in dataclasses.fields(Settings):
        assert field.metadata["description"].strip(), f"{field.name.upper()} has no description"
        assert f"| `{field.name.upper()}` |" in table


def test_every_error_code_is_documented_with_what_to_do() -> None:
    page = reference.errors_markdown()
    undocumented = []
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert f"`{cls.code}`" in page, f"{name} ({cls.code}) is missing from the errors page"
    for doc in reference.error_docs():
        if not doc.when or not doc.what_to_do:
            undocumented.append(f"{doc.name} ({doc.code})")
    assert not undocumented, (
        "these errors need a docstring with 'What to do:' (ivrimeet/errors.py): "
        + ", ".join(undocumented)
    )


def test_error_codes_are_unique() -> None:
    codes = [getattr(errors, name).code for name in errors.__all__]
    assert len(codes) == len(set(codes))


def test_every_api_route_is_on_the_meetings_api_page() -> None:
    page = reference.openapi_markdown()
    for path, operations in reference.openapi_schema()["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in page


def test_every_command_is_on_the_command_line_page() -> None:
    page = reference.cli_markdown()
    for command in ("doctor", "setup-bucket", "models pull", "models export", "models warm"):
        assert f"### `ivrimeet {command}`" in page


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200


def test_no_page_names_an_issue_number() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        text = page.read_text().lower()
        assert "issue #" not in text and "issue 4" not in text and "issue 8" not in text, page.name


@pytest.mark.skipif(shutil.which("mkdocs") is None, reason="mkdocs is in the dev extra")
def test_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [shutil.which("mkdocs") or "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": str(Path(sys.executable).parent), "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "S3_BUCKET" in (tmp_path / "site/configuration/index.html").read_text()
