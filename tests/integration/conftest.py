"""Fixtures shared by the processing and worker tests: the tiny models and a store.

- ``model_holder_for(hub, root)``: a ``ModelHolder`` for the tiny SpeechBrain-embedding
  pipeline and ECAPA encoder, through a model store whose bucket is a local folder under
  ``root``, filled from ``hub`` (nothing is loaded until ``get()``);
- ``tiny_holder``: one such holder, loaded once per module from the Hub stand-in;
- ``local_store``: a local folder object store for the test.

(``database``, a migrated SQLite database, comes from ``tests/servers/databases.py``.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ivrimeet.models import HubAccess, ModelStore
from ivrimeet.objects import LocalStore
from ivrimeet.processing.models import ModelHolder
from tests.hubrepos import PIPELINE_SPEECHBRAIN, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub

HolderFactory = Callable[[StandInHub, Path], ModelHolder]


def _holder(hub: StandInHub, root: Path) -> ModelHolder:
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    store = ModelStore(
        LocalStore(root / "models-bucket"),
        hub=HubAccess(endpoint=hub.endpoint, token=TEST_TOKEN),
        tmp_dir=root / "tmp",
    )
    return ModelHolder(store, pipeline_repo=PIPELINE_SPEECHBRAIN, encoder_repo=SPEECHBRAIN_ECAPA)


@pytest.fixture
def model_holder_for() -> HolderFactory:
    return _holder


@pytest.fixture(scope="module")
def tiny_holder(
    hub_standin: StandInHub, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModelHolder]:
    """The tiny pipeline and encoder, loaded once for the module through the model store."""
    from huggingface_hub import constants

    root = tmp_path_factory.mktemp("tiny-models")
    hub_standin.reset()  # an outage left on by an earlier module's test must not leak in
    with pytest.MonkeyPatch.context() as patch:
        # The libraries' own Hub lookups (outside the model store) must not leave the machine.
        patch.setattr(constants, "ENDPOINT", hub_standin.endpoint)
        patch.setattr(
            constants,
            "HUGGINGFACE_CO_URL_TEMPLATE",
            hub_standin.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        )
        patch.setattr(constants, "HF_HUB_CACHE", str(root / "hf-default-cache"))
        holder = _holder(hub_standin, root)
        assert not holder.loaded
        models = holder.get()
        assert holder.loaded and holder.get() is models
        yield holder


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "objects")
