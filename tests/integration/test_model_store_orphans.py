"""A manifest whose ref is missing: adopted when complete, ignored when a blob is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivrimeet.errors import IvrimeetError
from ivrimeet.models import list_models, materialize
from ivrimeet.models.layout import BucketLayout
from ivrimeet.objects import LocalStore
from tests.hubrepos import SAFETENSORS
from tests.integration.model_store_support import downloads, make_store
from tests.servers.hub import StandInHub

LAYOUT = BucketLayout("models/")


@pytest.fixture
def objects(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "bucket")


def _stored_without_ref(objects: LocalStore, hub: StandInHub, tmp_dir: Path) -> None:
    with materialize(make_store(objects, hub, tmp_dir), SAFETENSORS):
        pass
    objects.delete(LAYOUT.ref(SAFETENSORS, "main"))  # as a kill between manifest and ref
    hub.reset()


def test_a_complete_manifest_without_its_ref_is_adopted_and_the_ref_written(
    objects: LocalStore, hub: StandInHub, tmp_path: Path
) -> None:
    _stored_without_ref(objects, hub, tmp_path / "tmp")
    hub.outage = True

    with materialize(make_store(objects, hub, tmp_path / "tmp"), SAFETENSORS) as model:
        assert (model.snapshot / "model.safetensors").is_file()

    assert hub.requests == []
    commit = hub.commit(SAFETENSORS)
    assert objects.get_bytes(LAYOUT.ref(SAFETENSORS, "main")).decode() == commit
    [listed] = list_models(make_store(objects, hub, tmp_path / "tmp"), SAFETENSORS)
    assert "main" in listed.revisions


def test_a_manifest_without_ref_and_with_a_missing_blob_is_not_adopted(
    objects: LocalStore, hub: StandInHub, tmp_path: Path
) -> None:
    _stored_without_ref(objects, hub, tmp_path / "tmp")
    [blob, *_] = list(objects.list(LAYOUT.prefix + "blobs/"))
    objects.delete(blob.key)
    hub.outage = True

    store = make_store(objects, hub, tmp_path / "tmp")
    with (
        pytest.raises(IvrimeetError, match="not from the bucket, not from Hugging Face"),
        materialize(store, SAFETENSORS),
    ):
        pass
    assert not objects.exists(LAYOUT.ref(SAFETENSORS, "main"))

    hub.outage = False
    with materialize(make_store(objects, hub, tmp_path / "tmp"), SAFETENSORS):
        pass
    assert downloads(hub), "refilled from the Hub"
    assert objects.exists(blob.key) and objects.exists(LAYOUT.ref(SAFETENSORS, "main"))
