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


def _stage(dockerfile: str, name: str) -> str:
    """The lines of the Dockerfile stage ``FROM ... AS name``, up to the next ``FROM``."""
    match = re.search(rf"^FROM \S+ AS {name}\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S)
    assert match, f"no stage {name!r}"
    return match.group(1)


def test_dockerfile_targets_run_the_service_without_baking_in_models() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    api, worker = _stage(dockerfile, "api"), _stage(dockerfile, "worker")
    assert 'CMD ["ivrimeet", "serve", "--no-worker"]' in api
    assert 'CMD ["ivrimeet", "worker"]' in worker
    assert "ffmpeg" in worker and "ffmpeg" not in api
    for stage in (api, worker):
        assert "USER ivrimeet" in stage
    # Both install from the lock; only the worker takes the ml extra, CPU torch by default.
    assert "pip install -c requirements.lock ." in _stage(dockerfile, "build-api")
    build_worker = _stage(dockerfile, "build-worker")
    assert '".[ml]"' in build_worker and "requirements.lock" in build_worker
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in build_worker
    # No build step runs ivrimeet (which would fetch models into the image).
    assert not re.search(r"^RUN\b.*\bivrimeet (models|process|serve)", dockerfile, re.MULTILINE)


def test_env_example_copied_to_env_gives_the_defaults() -> None:
    # `cp .env.example .env` is the documented start: its blanks mean "unset".
    from_example = Settings(env_file=ROOT / ".env.example")
    defaults = Settings(env_file=None)
    for field in dataclasses.fields(Settings):
        assert getattr(from_example, field.name) == getattr(defaults, field.name), field.name
