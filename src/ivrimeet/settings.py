"""The one settings object: every knob ivrimeet has, read once from the environment.

This is the only module that reads ``os.environ`` (or a ``.env`` file). Entry points
(the API app factory, the worker, each CLI command) build ``Settings()`` once and
pass each lower layer only the values it needs.

Names are the ones users already know (``S3_BUCKET``, ``AWS_ACCESS_KEY_ID``,
``HF_TOKEN``, ``DATABASE_URL``...). Secrets are ``SecretStr``: they print as
``**********`` and are only unwrapped at the point of use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConfigRow", "Settings", "describe_settings", "mask_secret"]

MIB = 1024 * 1024
GIB = 1024 * MIB


class Settings(BaseSettings):
    """Effective configuration; field ``foo_bar`` is read from ``FOO_BAR``."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    # --- object storage -----------------------------------------------------
    s3_bucket: str | None = Field(default=None, description="S3 bucket; unset = local folder store")
    s3_region: str | None = Field(default=None, description="region of the bucket")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, B2, local)"
    )
    aws_access_key_id: SecretStr | None = Field(
        default=None, description="access key id; absent = AWS credential chain"
    )
    aws_secret_access_key: SecretStr | None = Field(default=None, description="secret access key")
    aws_session_token: SecretStr | None = Field(
        default=None, description="session token for temporary credentials"
    )
    aws_profile: str | None = Field(default=None, description="named profile from ~/.aws/config")
    model_prefix: str = Field(
        default="models/", description="bucket prefix under which models are stored"
    )
    transfer_part_size: int = Field(
        default=16 * MIB,
        ge=5 * MIB,
        le=512 * MIB,
        description="bytes per ranged GET on download",
    )
    transfer_concurrency: int = Field(
        default=8, ge=1, le=64, description="parallel connections per transfer"
    )
    upload_part_size: int = Field(
        default=8 * MIB,
        ge=5 * MIB,
        le=512 * MIB,
        description="bytes per multipart part on upload (memory: (UPLOAD_CONCURRENCY + 1) x this)",
    )
    upload_concurrency: int = Field(
        default=3, ge=1, le=64, description="multipart parts uploading at once per upload"
    )

    # --- Hugging Face -------------------------------------------------------
    hf_token: SecretStr | None = Field(
        default=None, description="Hugging Face token for gated models"
    )
    hf_endpoint: str = Field(
        default="https://huggingface.co", description="Hugging Face Hub endpoint"
    )
    diarization_pipeline: str = Field(
        default="pyannote/speaker-diarization-3.1",
        description="PyAnnote diarization pipeline repo",
    )
    embedding_model: str = Field(
        default="speechbrain/spkrec-ecapa-voxceleb",
        description="SpeechBrain speaker encoder repo",
    )
    model_cache_max_bytes: int = Field(
        default=0, ge=0, description="local model copy budget (0 = keep nothing)"
    )

    # --- local state --------------------------------------------------------
    ivrimeet_data_dir: Path = Field(
        default=Path("data"), description="local store, SQLite files, signing key"
    )
    ivrimeet_tmp_dir: Path | None = Field(
        default=None, description="temporary model caches; default system temp"
    )
    disk_warning_bytes: int = Field(
        default=2 * GIB, ge=0, description="warn when free temp disk drops below this"
    )

    # --- service ------------------------------------------------------------
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite in the data dir"
    )
    redis_url: SecretStr | None = Field(
        default=None, description="Redis URL for the job queue; default SQLite queue"
    )
    ivrimeet_queue_name: str = Field(
        default="ivrimeet",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="job queue name (Redis key prefix); deployments sharing a queue use one",
    )
    ivrimeet_api_token: SecretStr | None = Field(
        default=None, description="bearer token the API requires"
    )
    max_upload_bytes: int = Field(default=2 * GIB, ge=1, description="largest recording accepted")
    snippet_seconds: float = Field(
        default=15.0, gt=0, le=120, description="seconds of audio per speaker snippet"
    )
    max_recording_seconds: float = Field(
        default=4 * 3600.0,
        gt=0,
        description="longest recording processed (decoded audio takes 230 MB per hour)",
    )
    worker_claim_ttl_seconds: float = Field(
        default=120.0,
        gt=0,
        description="a processing meeting whose worker stopped renewing its claim for this"
        " long (the worker died) is re-queued; workers renew every third of it",
    )
    voiceprint_match_threshold: float = Field(
        default=0.5,
        ge=-1,
        le=1,
        description="cosine similarity from which a known speaker's name is suggested",
    )
    port: int = Field(default=8000, ge=1, le=65535, description="HTTP port (Koyeb sets PORT)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="log level"
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("model_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""

    @field_validator("s3_bucket", "s3_region", "s3_endpoint_url", "aws_profile", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def uses_s3(self) -> bool:
        """True when objects go to S3 rather than the local folder store."""
        return self.s3_bucket is not None

    @property
    def tmp_dir(self) -> Path:
        """Where temporary model caches are created."""
        import tempfile

        return self.ivrimeet_tmp_dir or Path(tempfile.gettempdir())


@dataclass(frozen=True)
class ConfigRow:
    """One line of ``ivrimeet config``: name, printable value, where it came from."""

    name: str
    value: str
    source: str
    description: str


def mask_secret(value: str) -> str:
    """Show only that a secret is set and its last four characters when long."""
    if len(value) >= 16:
        return f"****{value[-4:]}"
    return "****"


def _dotenv_values(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k.upper(): v for k, v in dotenv_values(path).items() if v is not None}


def describe_settings(settings: Settings, env_file: Path = Path(".env")) -> list[ConfigRow]:
    """Every setting with its value (secrets masked) and where it came from."""
    environ = {k.upper() for k in os.environ}
    dotenv = _dotenv_values(env_file)
    rows: list[ConfigRow] = []
    for name, field in Settings.model_fields.items():
        env_name = name.upper()
        raw = getattr(settings, name)
        if raw is None:
            value = "(unset)"
        elif isinstance(raw, SecretStr):
            value = mask_secret(raw.get_secret_value())
        else:
            value = str(raw)
        if env_name in environ:
            source = "environment"
        elif env_name in dotenv:
            source = str(env_file)
        else:
            source = "default"
        rows.append(ConfigRow(env_name, value, source, field.description or ""))
    return rows
