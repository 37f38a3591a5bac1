"""Pytest fixtures for the Hugging Face Hub stand-in (register with ``pytest_plugins``).

* ``hub_repo_folders`` (session): every tiny repo of ``tests.hubrepos.REPOS``,
  built once, as repo id -> folder. Publish one under a fresh id to get a repo
  a test may change (``hub.publish("ivrimeet-test/mine-<uuid>", folder)``).
* ``hub_standin`` (session): the running stand-in with all of them published,
  the ``GATED`` ones gated.
* ``hub`` (function): ``hub_standin`` after ``reset()``: no recorded requests, no outage.
* ``hub_client`` (function): ``hub``, with this process's ``huggingface_hub``
  pointed at it (``constants.ENDPOINT`` and ``HUGGINGFACE_CO_URL_TEMPLATE``,
  see ``tests.servers.hub``); ``constants.HF_HUB_OFFLINE`` is restored after the
  test, so a test may set it; and the default cache (``constants.HF_HUB_CACHE``,
  used by any download that passes no ``cache_dir``) is ``tmp_path/"hf-default-cache"``,
  never the developer's ``~/.cache/huggingface``.

A child process is pointed at the stand-in with ``env={**os.environ, **hub.client_env()}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.hub import StandInHub, run_hub


@pytest.fixture(scope="session")
def hub_repo_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Repo id -> folder holding that tiny repo's files, built once per session."""
    # Imported here: tests.hubrepos imports torch, pyannote and speechbrain (seconds),
    # which a session that never asks for the Hub should not pay for.
    from tests.hubrepos import build_repos

    return build_repos(tmp_path_factory.mktemp("hubrepos"))


@pytest.fixture(scope="session")
def hub_standin(
    tmp_path_factory: pytest.TempPathFactory, hub_repo_folders: dict[str, Path]
) -> Iterator[StandInHub]:
    """The stand-in Hub serving every tiny repo, for the whole session."""
    from tests.hubrepos import publish_repos

    with run_hub(tmp_path_factory.mktemp("hub")) as hub:
        publish_repos(hub, hub_repo_folders)
        yield hub


@pytest.fixture
def hub(hub_standin: StandInHub) -> StandInHub:
    """The stand-in, reset before the test (no requests, no outage) so no test leaks into it."""
    hub_standin.reset()
    return hub_standin


@pytest.fixture
def hub_client(hub: StandInHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StandInHub:
    """The stand-in, with this process's huggingface_hub (so pyannote, SpeechBrain) using it."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", constants.HF_HUB_OFFLINE)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-default-cache"))
    return hub
