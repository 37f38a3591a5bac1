"""Object storage: one interface (``ObjectStore``), an S3 and a local-folder backend."""

from ivrimeet.objects.local import LocalStore
from ivrimeet.objects.s3 import S3Store
from ivrimeet.objects.s3_client import S3Connection, describe_credentials
from ivrimeet.objects.store import (
    MAX_KEY_BYTES,
    ObjectInfo,
    ObjectStore,
    ProgressCallback,
    validate_key,
    validate_prefix,
)

__all__ = [
    "MAX_KEY_BYTES",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "ProgressCallback",
    "S3Connection",
    "S3Store",
    "describe_credentials",
    "validate_key",
    "validate_prefix",
]
