"""Transfer progress leaves the model store through ``TransferEvents`` as bytes move.

A fill of a repo with a multi-MB file from the Hub stand-in into moto reports a
``download`` phase (the bytes that arrived in the temporary cache) and an
``upload`` phase whose counts rise chunk by chunk, not once per file.
"""

from __future__ import annotations

from pathlib import Path

from ivrimeet.models.loaders import SnapshotLoader
from ivrimeet.objects import S3Store
from tests.integration.model_store_support import (
    RecordedEvents,
    make_store,
    publish_weights_repo,
)
from tests.servers.hub import StandInHub
from tests.servers.s3 import S3Server

BIG = 6 * 1024 * 1024 + 123


def test_a_fill_reports_download_and_upload_bytes_as_they_move(
    moto_s3: S3Server, hub_client: StandInHub, tmp_path: Path
) -> None:
    repo = publish_weights_repo(hub_client, tmp_path, BIG, "progress")
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    events = RecordedEvents()
    store = make_store(S3Store(moto_s3.new_bucket("progress")), hub_client, tmp_dir, events=events)

    loaded = store.load(SnapshotLoader(), repo)

    total = loaded.manifest.total_bytes
    assert total > BIG
    download_total, downloaded = events.counts("download")
    assert download_total is None  # the loader decides what it fetches as it goes
    assert downloaded and downloaded[-1] >= total
    upload_total, uploaded = events.counts("upload")
    assert upload_total == total
    assert uploaded[-1] == total
    assert uploaded == sorted(uploaded)
    between = [count for count in uploaded if 0 < count < total]
    assert len(between) >= BIG // (1024 * 1024) - 1, uploaded
