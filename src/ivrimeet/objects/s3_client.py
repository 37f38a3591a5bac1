"""How ivrimeet connects to S3: one ``S3Connection`` value, one botocore client.

Credentials follow the standard AWS chain: explicit keys when given
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``), otherwise whatever boto3
finds (profile, web identity, container or instance metadata). With an
endpoint (MinIO, R2, B2, a local test server) addressing is path-style.
Retries use botocore's ``standard`` mode (``retry.py`` applies the same to the
requests ivrimeet sends itself); sizes, timeouts and the retry budget come from
the connection's ``TransferConfig``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ivrimeet.errors import ConfigurationError
from ivrimeet.objects.transfer_config import TransferConfig

if TYPE_CHECKING:
    import boto3
    from botocore.config import Config
    from botocore.credentials import Credentials
    from mypy_boto3_s3 import S3Client

__all__ = ["S3Connection", "describe_credentials"]


@dataclass(frozen=True)
class S3Connection:
    """Everything needed to reach one bucket. Secrets are plain strings here:
    they come unwrapped from ``Settings`` at the entry point and never get logged
    (``__repr__`` hides them)."""

    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    transfer: TransferConfig = field(default_factory=TransferConfig)

    def session(self) -> boto3.Session:
        """A boto3 session with explicit keys when given, else the default chain."""
        # Imported here: the fast download path needs only botocore, and importing
        # boto3 (s3transfer...) costs start-up time that small models feel.
        import boto3

        return boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=self.session_token,
            region_name=self.region,
            profile_name=self.profile,
        )

    def credentials(self) -> Credentials | None:
        """The credentials requests are signed with (explicit keys, else the AWS chain)."""
        if self.access_key_id and self.secret_access_key:
            from botocore.credentials import Credentials

            return Credentials(
                self.access_key_id, self.secret_access_key, self.session_token, method="explicit"
            )
        return self.session().get_credentials()

    def botocore_config(self) -> Config:
        """The botocore client configuration (imported here: only boto3 clients need it)."""
        from botocore.config import Config

        addressing: Literal["path", "auto"] = "path" if self.endpoint_url else "auto"
        return Config(
            region_name=self.region,
            max_pool_connections=self.transfer.max_pool_connections,
            connect_timeout=self.transfer.connect_timeout,
            read_timeout=self.transfer.read_timeout,
            retries={"mode": "standard", "max_attempts": self.transfer.max_attempts},
            # Bodies carry a CRC32 checksum (botocore's default since 1.36) that S3
            # verifies, so the payload need not also be SHA-256 signed: 0.26 instead
            # of 0.6 CPU-s per GiB on plain-http endpoints, same integrity.
            s3={"addressing_style": addressing, "payload_signing_enabled": False},
            signature_version="s3v4",
            # Answers are not checked against their checksum header: compatible servers
            # get it wrong (rclone sends the whole object's checksum on a ranged answer).
            response_checksum_validation="when_required",
        )

    def client(self, session: boto3.Session | None = None) -> S3Client:
        """A new S3 client (thread-safe; share it)."""
        return (session or self.session()).client(
            "s3", endpoint_url=self.endpoint_url, config=self.botocore_config()
        )

    def ca_bundle(self) -> str:
        """The CA file HTTPS connections trust: ``AWS_CA_BUNDLE`` or the profile's
        ``ca_bundle`` (botocore's session resolves both, as for the boto3 client),
        else botocore's default bundle (certifi)."""
        from botocore.exceptions import ProfileNotFound
        from botocore.httpsession import where
        from botocore.session import Session

        try:
            configured = Session(profile=self.profile).get_config_variable("ca_bundle")
        except ProfileNotFound as exc:
            raise ConfigurationError(
                f"AWS_PROFILE={self.profile} names no profile in the AWS config files.",
                hints=["fix AWS_PROFILE, or add the profile to ~/.aws/config"],
            ) from exc
        return str(configured) if configured else str(where())

    @property
    def endpoint_label(self) -> str:
        """The endpoint for messages: the configured URL or AWS's regional host."""
        if self.endpoint_url:
            return self.endpoint_url
        return f"s3.{self.region or 'us-east-1'}.amazonaws.com"


def describe_credentials(credentials: Credentials | None) -> str:
    """Where credentials came from, for error messages: method and key id tail only."""
    if credentials is None:
        return "No credentials were found."
    method = getattr(credentials, "method", None) or "unknown source"
    key_id = credentials.access_key or ""
    tail = key_id[-4:] if len(key_id) >= 8 else "?"
    origin = {
        "explicit": "the environment/settings",
        "env": "the environment",
        "shared-credentials-file": "~/.aws/credentials",
        "config-file": "~/.aws/config",
        "iam-role": "the instance metadata (IAM role)",
        "container-role": "the container credentials endpoint",
        "assume-role": "an assumed role",
        "assume-role-with-web-identity": "a web identity token",
        "sso": "AWS SSO",
    }.get(method, method)
    return f"Credentials came from {origin} (AWS_ACCESS_KEY_ID ending in {tail})."
