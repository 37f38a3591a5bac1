"""What a load reports: where the model came from, what it cost, where the temporary copy went.

Every load logs exactly one INFO line, after its temporary cache is gone, that
answers the operator's three questions ("not loading from S3?", "disk filling
up?", "downloading every time?")::

    model.loaded from the bucket s3://meetings/models/: repo=org/name revision=main
      commit=84fd… kind=encoder origin=bucket files=5 bytes=2254976 seconds=0.41
      healed=0 stored=false temp=deleted freed_bytes=2254976

The phrase after the event name is one of "from the bucket …", "from the local
model store …" (no ``S3_BUCKET``: a folder), "from the local blob cache" (every
blob was kept from an earlier load, ``MODEL_CACHE_MAX_BYTES``) and "from Hugging
Face …"; ``origin`` says the same as a value to filter on.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, TypeVar

from ivrimeet.models.manifest import Manifest, ModelKind

__all__ = ["LoadReport", "Loaded", "Origin", "disk_bytes", "log_loaded", "origin_phrase"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

Origin = Literal["bucket", "folder", "local-cache", "huggingface"]
"""Where the model's files came from, honestly: an S3 bucket, the local folder store,
the local blob cache, or Hugging Face."""


@dataclass(frozen=True)
class LoadReport:
    """Where a model came from and what it cost: one ``model.loaded`` log line.

    ``location`` is the bucket's URL, the folder store's path, the Hub endpoint,
    or empty for the local blob cache. ``from_bucket`` is what a deploy check
    (``models warm --require-bucket``)
    wants: True when the files came from the configured object store (or the
    local blob cache of its verified blobs), False when Hugging Face had to
    serve them.
    """

    repo: str
    revision: str
    commit: str
    kind: ModelKind
    origin: Origin
    location: str
    files: int
    bytes: int
    seconds: float
    healed: int = 0
    stored: bool = False

    @property
    def from_bucket(self) -> bool:
        """True unless Hugging Face served the files."""
        return self.origin != "huggingface"


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """A loaded model, its report and the manifest of its closure."""

    value: T
    report: LoadReport
    manifest: Manifest


def disk_bytes(directory: Path) -> int:
    """Bytes ``directory`` holds on disk (hard links counted once, symlinks not followed)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                info = os.lstat(os.path.join(root, name))
            except FileNotFoundError:
                continue
            if (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


_PHRASES: dict[Origin, str] = {
    "bucket": "from the bucket",
    "folder": "from the local model store",
    "local-cache": "from the local blob cache",
    "huggingface": "from Hugging Face",
}


def origin_phrase(origin: Origin) -> str:
    """How the load line says where a model came from: "from the bucket", "from Hugging Face"..."""
    return _PHRASES[origin]


def log_loaded(report: LoadReport, *, temp: Path, freed_bytes: int) -> None:
    """The one INFO line of a load, written once its temporary cache is removed (or not)."""
    where = f"{_PHRASES[report.origin]} {report.location}".rstrip()
    logger.info(
        "model.loaded %s: repo=%s revision=%s commit=%s kind=%s origin=%s files=%d bytes=%d "
        "seconds=%.2f healed=%d stored=%s temp=%s freed_bytes=%d",
        where,
        report.repo,
        report.revision,
        report.commit,
        report.kind,
        report.origin,
        report.files,
        report.bytes,
        report.seconds,
        report.healed,
        str(report.stored).lower(),
        "deleted" if not temp.exists() else f"left:{temp}",
        freed_bytes,
    )
