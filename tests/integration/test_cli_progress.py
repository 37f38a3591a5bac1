"""What a user sees while a model moves: bars that move, fit 80 columns, logs above them.

A fill from the Hub stand-in (its blob origin behind a proxy that paces the
bytes, as a real network does) reports download counts between 0 and the
total; the Rich bars the CLI draws from those events fit an 80-column
terminal, and a log line emitted meanwhile is printed above the bar, not in it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from ivrimeet.cli.progress import RichTransferEvents, transfer_bars
from ivrimeet.models.loaders import SnapshotLoader
from ivrimeet.objects import LocalStore
from tests.faults.proxy import FaultProxy, port_of, running_proxy
from tests.integration.model_store_support import (
    RecordedEvents,
    make_store,
    publish_weights_repo,
)
from tests.servers.hub import StandInHub

MIB = 1024 * 1024
# huggingface_hub writes a download in 10 MiB chunks: 25 MiB lands in three steps.
BIG = 25 * MIB


@pytest.fixture
def paced_hub(hub_client: StandInHub) -> Iterator[FaultProxy]:
    """The Hub's blob origin behind a proxy adding 10 ms per 64 KiB (~6 MB/s)."""
    original = hub_client.blob_endpoint
    with running_proxy(port_of(original)) as proxy:
        proxy.latency(0.01)
        hub_client.blob_endpoint = proxy.url
        try:
            yield proxy
        finally:
            hub_client.blob_endpoint = original


def test_hugging_face_download_progress_moves_before_the_file_is_complete(
    hub_client: StandInHub, paced_hub: FaultProxy, tmp_path: Path
) -> None:
    repo = publish_weights_repo(hub_client, tmp_path, BIG, "paced")
    (tmp_path / "tmp").mkdir()
    events = RecordedEvents()
    store = make_store(
        LocalStore(tmp_path / "objects"),
        hub_client,
        tmp_path / "tmp",
        events=events,
    )

    loaded = store.load(SnapshotLoader(), repo)

    total = loaded.manifest.total_bytes
    _, downloaded = events.counts("download")
    assert downloaded[-1] >= total
    assert [c for c in downloaded if 0 < c < BIG], downloaded
    _, uploaded = events.counts("upload")
    assert uploaded[-1] == total
    assert len([c for c in uploaded if 0 < c < total]) >= BIG // MIB - 1


def test_bars_fit_80_columns_and_log_lines_print_above_them() -> None:
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    with transfer_bars("INFO", [], console=console) as bars:
        events = RichTransferEvents(bars)
        events.started("upload", "pyannote/speaker-diarization-community-1@main", 9, 314 * MIB)
        events.advanced(100 * MIB)
        bars.refresh()
        logging.getLogger("ivrimeet.models.store").info("model.stored repo=x files=9")
        events.advanced(214 * MIB)
        events.finished()

    screen = out.getvalue()
    lines = [line for chunk in screen.split("\r") for line in chunk.split("\n")]
    visible = [_strip_controls(line) for line in lines]
    assert max(len(line) for line in visible) <= 80, visible
    log_at = next(i for i, line in enumerate(visible) if "model.stored repo=x" in line)
    assert not any("━" in part for part in visible[log_at].split("model.stored")), visible[log_at]
    # The bar goes on below the log line and ends full (Rich counts decimal MB).
    assert any("329.3/329.3 MB" in line for line in visible[log_at + 1 :]), visible


def _strip_controls(line: str) -> str:
    """``line`` without terminal control sequences (cursor moves, erase-line)."""
    import re

    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
