"""The deploy files stay in step with the code: every setting is documented in .env.example."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ivrimeet.settings import Secret, Settings

ROOT = Path(__file__).resolve().parents[2]


def _example() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


def test_env_example_names_every_setting_and_nothing_else() -> None:
    assert set(_example()) == {f.name.upper() for f in dataclasses.fields(Settings)}


def test_env_example_holds_no_secret_values() -> None:
    example = _example()
    secrets = [f.name for f in dataclasses.fields(Settings) if "Secret" in str(f.type)]
    assert len(secrets) == 7
    for name in secrets:
        assert example[name.upper()] == "", name
    assert Secret("x") != "x"


def test_dockerfile_runs_the_service_without_baking_in_models() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["ivrimeet", "serve"]' in dockerfile
    assert "ffmpeg" in dockerfile
    assert 'pip install ".[ml]"' in dockerfile
    # No build step runs ivrimeet (which would fetch models into the image).
    assert not re.search(r"^RUN\b.*\bivrimeet (models|process|serve)", dockerfile, re.MULTILINE)


def test_env_example_copied_to_env_gives_the_defaults() -> None:
    # `cp .env.example .env` is the documented start: its blanks mean "unset".
    from_example = Settings(env_file=ROOT / ".env.example")
    defaults = Settings(env_file=None)
    for field in dataclasses.fields(Settings):
        assert getattr(from_example, field.name) == getattr(defaults, field.name), field.name
