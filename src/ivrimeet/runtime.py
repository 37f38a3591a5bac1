"""Builds the running parts (object store, ...) from ``Settings`` for entry points.

API, worker and CLI call these once at start-up and pass the results down; no
lower layer ever sees ``Settings``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ivrimeet.objects import LocalStore, ObjectStore, S3Connection, S3Store
from ivrimeet.settings import Secret, Settings

if TYPE_CHECKING:
    from ivrimeet.models import ModelStore, TransferEvents

__all__ = [
    "local_signing_key",
    "model_store",
    "object_store",
    "s3_connection",
    "secret_values",
]


def s3_connection(settings: Settings) -> S3Connection:
    """The S3 connection the settings describe (requires ``S3_BUCKET``)."""
    assert settings.s3_bucket is not None, "s3_connection() needs S3_BUCKET"
    return S3Connection(
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url,
        access_key_id=_reveal(settings.aws_access_key_id),
        secret_access_key=_reveal(settings.aws_secret_access_key),
        session_token=_reveal(settings.aws_session_token),
        profile=settings.aws_profile,
        transfer=settings.transfer_config(),
    )


def local_signing_key(data_dir: Path) -> bytes:
    """The HMAC key of the API's media links when it has no token; made once per data dir."""
    path = data_dir / ".signing-key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(secrets.token_bytes(32))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_bytes()


def object_store(settings: Settings) -> ObjectStore:
    """S3 when ``S3_BUCKET`` is set, else the local folder store in the data dir."""
    if settings.uses_s3:
        return S3Store(s3_connection(settings))
    data_dir = settings.ivrimeet_data_dir
    return LocalStore(data_dir / "objects")


def model_store(
    settings: Settings,
    objects: ObjectStore | None = None,
    *,
    events: TransferEvents | None = None,
) -> ModelStore:
    """The model store the settings describe; removes dead processes' temporary caches first.

    Pass ``objects`` to share an object store the entry point already built, and
    ``events`` to show transfer progress (the CLI's bars).
    """
    # Imported here: an API-only server never loads models (the model stack costs memory).
    from ivrimeet.models import NO_EVENTS, HubAccess, ModelStore, sweep_stale

    sweep_stale(settings.tmp_dir)
    return ModelStore(
        objects if objects is not None else object_store(settings),
        prefix=settings.model_prefix,
        hub=HubAccess(endpoint=settings.hf_endpoint, token=_reveal(settings.hf_token)),
        tmp_dir=settings.tmp_dir,
        disk_warning_bytes=settings.disk_warning_bytes,
        concurrency=settings.transfer_concurrency,
        cache_max_bytes=settings.model_cache_max_bytes,
        events=events if events is not None else NO_EVENTS,
    )


def secret_values(settings: Settings) -> list[str]:
    """Every secret's plain value, for the log redaction filter."""
    values = [
        settings.aws_access_key_id,
        settings.aws_secret_access_key,
        settings.aws_session_token,
        settings.hf_token,
        settings.ivrimeet_api_token,
        settings.database_url,
        settings.redis_url,
    ]
    return [v.get_secret_value() for v in values if v is not None]


def _reveal(value: Secret | None) -> str | None:
    return value.get_secret_value() if value is not None else None
