"""Object storage: one interface (``ObjectStore``), an S3 and a local-folder backend.

The interface (``store``) is imported eagerly; each backend and tool module on
first use of one of its names, so a process imports only what it touches:
``ivrimeet models export`` reaches S3 through ``S3Store`` alone and never pays
for ``bucket_setup``/``checks`` (botocore's client machinery, ``botocore.config``).
"""

from typing import TYPE_CHECKING

from ivrimeet.lazy import lazy_attributes
from ivrimeet.objects.store import (
    MAX_KEY_BYTES,
    Digest,
    ObjectInfo,
    ObjectStore,
    ProgressCallback,
    validate_key,
    validate_prefix,
)

if TYPE_CHECKING:
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
    from ivrimeet.objects.transfer_config import TransferConfig

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
    "TransferConfig",
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

_LAZY = {
    "CreatedUser": "ivrimeet.objects.bucket_setup",
    "SetupReport": "ivrimeet.objects.bucket_setup",
    "StepResult": "ivrimeet.objects.bucket_setup",
    "StepStatus": "ivrimeet.objects.bucket_setup",
    "setup_bucket": "ivrimeet.objects.bucket_setup",
    "CheckResult": "ivrimeet.objects.checks",
    "CheckStatus": "ivrimeet.objects.checks",
    "data_dir_writable": "ivrimeet.objects.checks",
    "free_disk": "ivrimeet.objects.checks",
    "s3_checks": "ivrimeet.objects.checks",
    "least_privilege_policy": "ivrimeet.objects.iam_policy",
    "policy_json": "ivrimeet.objects.iam_policy",
    "LocalStore": "ivrimeet.objects.local",
    "S3Store": "ivrimeet.objects.s3",
    "S3Connection": "ivrimeet.objects.s3_client",
    "describe_credentials": "ivrimeet.objects.s3_client",
    "TransferConfig": "ivrimeet.objects.transfer_config",
}

__getattr__ = lazy_attributes(globals(), _LAZY)
