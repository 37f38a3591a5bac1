"""The deploy files stay in step with the code: every setting is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import SecretStr

from ivrimeet.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _example() -> dict[str, str]:
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.MULTILINE))


def test_env_example_names_every_setting_and_nothing_else() -> None:
    assert set(_example()) == {name.upper() for name in Settings.model_fields}


def test_env_example_holds_no_secret_values() -> None:
    example = _example()
    for name, field in Settings.model_fields.items():
        if field.annotation is not None and SecretStr in getattr(field.annotation, "__args__", ()):
            assert example[name.upper()] == "", name


def test_dockerfile_runs_the_service_without_baking_in_models() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["ivrimeet", "serve"]' in dockerfile
    assert "ffmpeg" in dockerfile
    assert 'pip install ".[ml]"' in dockerfile
    # No build step runs ivrimeet (which would fetch models into the image).
    assert not re.search(r"^RUN\b.*\bivrimeet (models|process|serve)", dockerfile, re.MULTILINE)
