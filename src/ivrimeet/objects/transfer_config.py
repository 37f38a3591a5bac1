"""``TransferConfig``: every number that shapes an S3 transfer, checked once, in one place.

Modelled on s3transfer's ``TransferConfig``: the part sizes, concurrency,
timeouts and retry budget live here and nowhere else; ``Settings`` passes the
user's values in (``runtime.s3_connection``), tests and tools build their own.
A value out of range raises ``ConfigurationError`` naming the variable that sets
it and the range it must be in.

Memory, worst case per transfer::

    download_to_file   concurrency * 1 MiB             (one read buffer per thread)
    put                (upload_concurrency + 1) * upload_part_size
                                                       (parts in flight + one filling)

With the defaults: 8 MiB per download, 32 MiB per upload.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ivrimeet.errors import ConfigurationError

__all__ = ["MAX_PART_SIZE", "MIN_PART_SIZE", "TransferConfig"]

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
"""S3's smallest multipart part (all but the last)."""
MAX_PART_SIZE = 5 * 1024 * MiB
"""S3's largest multipart part."""


def _knob(default: Any, setting: str, low: float, high: float) -> Any:
    # ``Any`` so that each attribute keeps its declared type.
    return field(default=default, metadata={"setting": setting, "range": (low, high)})


@dataclass(frozen=True)
class TransferConfig:
    """How ivrimeet moves bytes to and from S3 (see the module docstring for memory).

    - ``part_size``: bytes per ranged GET of ``download_to_file``; measured best
      here 16 MiB with 8 connections (``bench/``);
    - ``concurrency``: connections per download;
    - ``upload_part_size`` / ``upload_concurrency``: multipart part size and
      parts in flight per upload (measured through the API: 8 MiB, 3);
    - ``connect_timeout`` / ``read_timeout`` (seconds): separate, so an endpoint
      that drops packets fails over after ``connect_timeout``, not after the
      read timeout that a slow answer needs;
    - ``max_attempts``: tries per request, the first included (botocore's
      standard mode counts the same way; ``retry.py``);
    - ``max_pool_connections``: idle keep-alive connections kept per store.
    """

    part_size: int = _knob(16 * MiB, "TRANSFER_PART_SIZE", MIN_PART_SIZE, MAX_PART_SIZE)
    concurrency: int = _knob(8, "TRANSFER_CONCURRENCY", 1, 64)
    upload_part_size: int = _knob(8 * MiB, "UPLOAD_PART_SIZE", MIN_PART_SIZE, MAX_PART_SIZE)
    upload_concurrency: int = _knob(3, "UPLOAD_CONCURRENCY", 1, 64)
    connect_timeout: float = _knob(5.0, "S3_CONNECT_TIMEOUT", 0.01, 600)
    read_timeout: float = _knob(60.0, "S3_READ_TIMEOUT", 0.01, 3600)
    max_attempts: int = _knob(5, "S3_MAX_ATTEMPTS", 1, 20)
    max_pool_connections: int = _knob(32, "S3_MAX_POOL_CONNECTIONS", 1, 256)

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            low, high = spec.metadata["range"]
            value = getattr(self, spec.name)
            if not low <= value <= high:
                setting = spec.metadata["setting"]
                raise ConfigurationError(
                    f"{setting}: {spec.name}={value} is out of range ({low}..{high}).",
                    hints=[f"set {setting} between {low} and {high}"],
                )

    def tuned(
        self,
        *,
        part_size: int | None = None,
        concurrency: int | None = None,
        upload_part_size: int | None = None,
        upload_concurrency: int | None = None,
    ) -> TransferConfig:
        """This config with the given sizes (checked again).

        A smaller download ``part_size`` or ``concurrency`` also caps the upload's
        when those are not given: a caller that asks for small parts (a test, a
        memory-tight tool) gets small parts both ways.
        """
        changes: dict[str, int] = {}
        if part_size is not None:
            changes["part_size"] = part_size
            changes["upload_part_size"] = min(part_size, self.upload_part_size)
        if concurrency is not None:
            changes["concurrency"] = concurrency
            changes["upload_concurrency"] = min(concurrency, self.upload_concurrency)
        if upload_part_size is not None:
            changes["upload_part_size"] = upload_part_size
        if upload_concurrency is not None:
            changes["upload_concurrency"] = upload_concurrency
        return dataclasses.replace(self, **changes) if changes else self
