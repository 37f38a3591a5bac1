"""What a fault may have left behind, looked up on the real servers, counted in the ledger.

Each function returns the list of leftovers found (empty when clean) after
recording it, so a test writes ``assert objects_left(...) == []`` and the
suite's "leaked" figure is the sum of exactly what those assertions saw.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults import ledger
from tests.servers.s3 import S3Server

__all__ = ["files_left", "objects_left", "uploads_left"]


def objects_left(
    server: S3Server, bucket: str, prefix: str = "", *, expected: frozenset[str] = frozenset()
) -> list[str]:
    """Keys under ``prefix`` in ``bucket`` other than ``expected`` (asked around any proxy)."""
    client = server.admin_client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"] not in expected]
    return ledger.leftovers("objects", keys)


def uploads_left(server: S3Server, bucket: str) -> list[str]:
    """Multipart uploads still open in ``bucket`` (each costs money until aborted)."""
    found = [f"{u['Key']} ({u['UploadId']})" for u in server.list_multipart_uploads(bucket)]
    return ledger.leftovers("multipart uploads", found)


def files_left(directory: Path, pattern: str = "*") -> list[str]:
    """Files and folders matching ``pattern`` anywhere under ``directory``."""
    found = sorted(str(p.relative_to(directory)) for p in directory.rglob(pattern))
    return ledger.leftovers("temp files", found)


def rows_left(found: list[str]) -> list[str]:
    """Record a row check whose result the caller computed (the query is the caller's)."""
    return ledger.leftovers("rows", found)
