"""Object storage: one interface (``ObjectStore``), an S3 and a local-folder backend."""

from ivrimeet.objects.bucket_setup import (
    CreatedUser,
    SetupReport,
    StepResult,
    StepStatus,
    setup_bucket,
)
from ivrimeet.objects.checks import (
    CheckResult,
    CheckStatus,
    data_dir_writable,
    free_disk,
    s3_checks,
)
from ivrimeet.objects.iam_policy import least_privilege_policy, policy_json
from ivrimeet.objects.local import LocalStore
from ivrimeet.objects.s3 import S3Store
from ivrimeet.objects.s3_client import S3Connection, describe_credentials
from ivrimeet.objects.store import (
    MAX_KEY_BYTES,
    Digest,
    ObjectInfo,
    ObjectStore,
    ProgressCallback,
    validate_key,
    validate_prefix,
)

__all__ = [
    "MAX_KEY_BYTES",
    "CheckResult",
    "CheckStatus",
    "CreatedUser",
    "Digest",
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "ProgressCallback",
    "S3Connection",
    "S3Store",
    "SetupReport",
    "StepResult",
    "StepStatus",
    "data_dir_writable",
    "describe_credentials",
    "free_disk",
    "least_privilege_policy",
    "policy_json",
    "s3_checks",
    "setup_bucket",
    "validate_key",
    "validate_prefix",
]
