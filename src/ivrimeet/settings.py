"""The one settings object: every knob ivrimeet has, read once from the environment.

This is the only module that reads ``os.environ`` (or a ``.env`` file). Entry points
(the API app factory, the worker, each CLI command) build ``Settings()`` once and
pass each lower layer only the values it needs.

Names are the ones users already know (``S3_BUCKET``, ``AWS_ACCESS_KEY_ID``,
``HF_TOKEN``, ``DATABASE_URL``...). Secrets are ``Secret``: they print as
``**********`` and are only unwrapped at the point of use.

Each value comes from, in order: a keyword argument to ``Settings(...)``, the
environment (names are case-insensitive), the ``.env`` file in the working
directory, the default. Every malformed value is reported at once, in one
``ConfigurationError`` naming each variable (never a secret's value).

Standard library only, on purpose: pydantic-settings cost ~0.2 s of imports
(pydantic's model machinery, asyncio) on every ``ivrimeet`` command, about
half of a small ``ivrimeet models export`` (``README.md``, Performance).
"""

from __future__ import annotations

import dataclasses
import operator
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ivrimeet.errors import ConfigurationError
from ivrimeet.objects import TransferConfig

__all__ = ["ConfigRow", "Secret", "Settings", "describe_settings", "mask_secret"]

MIB = 1024 * 1024
GIB = 1024 * MIB

ENV_FILE = Path(".env")


class Secret:
    """A secret string: ``**********`` in every repr, str and log; ``get_secret_value()``
    where it is used."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- parsing one value ---------------------------------------------------------------
# A parser takes what the environment or a caller gave and returns the typed value,
# or raises ValueError with what is wrong (the variable's name is added by the caller).


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value


def _optional_text(value: Any) -> str | None:
    """Text where blank means unset (``S3_BUCKET=`` in a .env: the local store)."""
    if value is None:
        return None
    text = _text(value)
    return text if text.strip() else None


def _secret(value: Any) -> Secret | None:
    """A secret; blank means unset (``HF_TOKEN=`` as in ``.env.example``)."""
    if value is None or isinstance(value, Secret):
        return value
    text = _text(value)
    return Secret(text) if text.strip() else None


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    return Path(_text(value))


def _optional_path(value: Any) -> Path | None:
    """A path; blank means unset (not the working directory)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _path(value)


_BOUNDS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "gt": (operator.gt, ">"),
    "ge": (operator.ge, ">="),
    "lt": (operator.lt, "<"),
    "le": (operator.le, "<="),
}


def _number(kind: type[int] | type[float], **bounds: float) -> Callable[[Any], Any]:
    def parse(value: Any) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {type(value).__name__}")
        if isinstance(value, str):
            try:
                number: int | float = kind(value.strip())
            except ValueError:
                raise ValueError(f"{value[:40]!r} is not a valid {kind.__name__}") from None
        elif kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value} is not a whole number")
        else:
            number = kind(value)
        for name, limit in bounds.items():
            holds, sign = _BOUNDS[name]
            if not holds(number, limit):
                raise ValueError(f"{number} is out of range: must be {sign} {limit:g}")
        return number

    return parse


def _one_of(*choices: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value).strip().upper()
        if text not in choices:
            raise ValueError(f"{value[:40]!r} is not one of {', '.join(choices)}")
        return text

    return parse


def _matching(pattern: str) -> Callable[[Any], str]:
    compiled = re.compile(pattern)

    def parse(value: Any) -> str:
        text = _text(value)
        if not compiled.fullmatch(text):
            raise ValueError(f"{text[:70]!r} does not match {pattern}")
        return text

    return parse


def _prefix(value: Any) -> str:
    """A bucket prefix with exactly one trailing slash ('' for the bucket's root)."""
    text = _text(value).strip("/")
    return f"{text}/" if text else ""


def _knob(
    default: Any, description: str, parse: Callable[[Any], Any] = _text
) -> Any:  # a dataclass field; ``Any`` so that each attribute keeps its declared type
    return dataclasses.field(default=default, metadata={"description": description, "parse": parse})


_TRANSFER_FIELDS = {
    "part_size": "transfer_part_size",
    "concurrency": "transfer_concurrency",
    "upload_part_size": "upload_part_size",
    "upload_concurrency": "upload_concurrency",
    "connect_timeout": "s3_connect_timeout",
    "read_timeout": "s3_read_timeout",
    "max_attempts": "s3_max_attempts",
}
"""``TransferConfig`` field -> the setting that gives it."""


@dataclass(frozen=True, init=False)
class Settings:
    """Effective configuration; field ``foo_bar`` is read from ``FOO_BAR``.

    ``Settings(**values)`` takes any field as a keyword argument (tests, ``setup-bucket``);
    ``env_file`` (default ``.env`` in the working directory; None: no file).
    """

    # --- object storage -----------------------------------------------------
    s3_bucket: str | None = _knob(None, "S3 bucket; unset = local folder store", _optional_text)
    s3_region: str | None = _knob(None, "region of the bucket", _optional_text)
    s3_endpoint_url: str | None = _knob(
        None,
        "S3-compatible endpoint (MinIO, R2, B2, local); unset: AWS_ENDPOINT_URL_S3,"
        " then AWS_ENDPOINT_URL (botocore's order), else AWS's own for the region",
        _optional_text,
    )
    aws_endpoint_url_s3: str | None = _knob(
        None, "the AWS SDKs' S3 endpoint variable; S3_ENDPOINT_URL wins over it", _optional_text
    )
    aws_endpoint_url: str | None = _knob(
        None,
        "the AWS SDKs' endpoint for every service; S3_ENDPOINT_URL and AWS_ENDPOINT_URL_S3 win",
        _optional_text,
    )
    aws_access_key_id: Secret | None = _knob(
        None, "access key id; absent = AWS credential chain", _secret
    )
    aws_secret_access_key: Secret | None = _knob(None, "secret access key", _secret)
    aws_session_token: Secret | None = _knob(
        None, "session token for temporary credentials", _secret
    )
    aws_profile: str | None = _knob(None, "named profile from ~/.aws/config", _optional_text)
    model_prefix: str = _knob("models/", "bucket prefix under which models are stored", _prefix)
    # Defaults and ranges are TransferConfig's (objects/transfer_config.py), checked there.
    transfer_part_size: int = _knob(
        TransferConfig.part_size, "bytes per ranged GET on download (5 MiB-5 GiB)", _number(int)
    )
    transfer_concurrency: int = _knob(
        TransferConfig.concurrency, "parallel connections per download (1-64)", _number(int)
    )
    upload_part_size: int = _knob(
        TransferConfig.upload_part_size,
        "bytes per multipart part on upload, 5 MiB-5 GiB (memory: (UPLOAD_CONCURRENCY + 1) x this)",
        _number(int),
    )
    upload_concurrency: int = _knob(
        TransferConfig.upload_concurrency,
        "multipart parts uploading at once per upload (1-64)",
        _number(int),
    )
    s3_connect_timeout: float = _knob(
        TransferConfig.connect_timeout,
        "seconds to connect to S3 (TCP, proxy, TLS) before a retry",
        _number(float),
    )
    s3_read_timeout: float = _knob(
        TransferConfig.read_timeout, "seconds S3 may stay silent mid-answer", _number(float)
    )
    s3_max_attempts: int = _knob(
        TransferConfig.max_attempts,
        "tries per S3 request, the first included (botocore standard-mode retries, 1-20)",
        _number(int),
    )

    # --- Hugging Face -------------------------------------------------------
    hf_token: Secret | None = _knob(None, "Hugging Face token for gated models", _secret)
    hf_endpoint: str = _knob("https://huggingface.co", "Hugging Face Hub endpoint")
    diarization_pipeline: str = _knob(
        "pyannote/speaker-diarization-3.1", "PyAnnote diarization pipeline repo"
    )
    embedding_model: str = _knob(
        "speechbrain/spkrec-ecapa-voxceleb", "SpeechBrain speaker encoder repo"
    )
    model_cache_max_bytes: int = _knob(
        0, "local model copy budget (0 = keep nothing)", _number(int, ge=0)
    )

    # --- local state --------------------------------------------------------
    ivrimeet_data_dir: Path = _knob(Path("data"), "local store, SQLite files, signing key", _path)
    ivrimeet_tmp_dir: Path | None = _knob(
        None, "temporary model caches; default system temp", _optional_path
    )
    disk_warning_bytes: int = _knob(
        2 * GIB, "warn when free temp disk drops below this", _number(int, ge=0)
    )

    # --- service ------------------------------------------------------------
    database_url: Secret | None = _knob(
        None, "SQLAlchemy URL; default SQLite in the data dir", _secret
    )
    redis_url: Secret | None = _knob(
        None, "Redis URL for the job queue; default SQLite queue", _secret
    )
    ivrimeet_queue_name: str = _knob(
        "ivrimeet",
        "job queue name (Redis key prefix); deployments sharing a queue use one",
        _matching(r"[A-Za-z0-9_.-]{1,64}"),
    )
    ivrimeet_api_token: Secret | None = _knob(None, "bearer token the API requires", _secret)
    max_upload_bytes: int = _knob(2 * GIB, "largest recording accepted", _number(int, ge=1))
    max_concurrent_uploads: int = _knob(
        4,
        "uploads one API process streams at once (each holds up to ~25 MiB); more get 503",
        _number(int, ge=1, le=1000),
    )
    http_header_timeout: float = _knob(
        20.0,
        "seconds a client has to send a request line and headers, from its first byte"
        " (or from connecting); then 408 and the connection is closed",
        _number(float, gt=0, le=3600),
    )
    http_body_timeout: float = _knob(
        60.0,
        "seconds a request body may stall between two chunks; then the upload is"
        " aborted (nothing stored) and the connection closed",
        _number(float, gt=0, le=3600),
    )
    snippet_seconds: float = _knob(
        15.0, "seconds of audio per speaker snippet", _number(float, gt=0, le=120)
    )
    max_recording_seconds: float = _knob(
        4 * 3600.0,
        "longest recording processed (decoded audio takes 230 MB per hour)",
        _number(float, gt=0),
    )
    worker_claim_ttl_seconds: float = _knob(
        120.0,
        "a processing meeting whose worker stopped renewing its claim for this"
        " long (the worker died) is re-queued; workers renew every third of it",
        _number(float, gt=0),
    )
    voiceprint_match_threshold: float = _knob(
        0.5,
        "cosine similarity from which a known speaker's name is suggested",
        _number(float, ge=-1, le=1),
    )
    port: int = _knob(8000, "HTTP port (Koyeb sets PORT)", _number(int, ge=1, le=65535))
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _knob(
        "INFO", "log level", _one_of("DEBUG", "INFO", "WARNING", "ERROR")
    )

    def __init__(self, *, env_file: Path | None = ENV_FILE, **values: Any) -> None:
        unknown = set(values) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        environ = {k.upper(): v for k, v in os.environ.items()}
        dotenv = _dotenv_values(env_file) if env_file is not None else {}
        problems = []
        for field in dataclasses.fields(self):
            name = field.name.upper()
            if field.name in values:
                raw = values[field.name]
            elif name in environ:
                raw = environ[name]
            elif name in dotenv:
                raw = dotenv[name]
            else:
                object.__setattr__(self, field.name, field.default)
                continue
            try:
                value = None if raw is None else field.metadata["parse"](raw)
            except ValueError as exc:
                secret = field.metadata["parse"] is _secret
                problems.append(f"{name}: {'malformed' if secret else exc}")
                continue
            object.__setattr__(self, field.name, value)
        if self.s3_endpoint_url is None:
            # botocore's precedence: the explicit endpoint, then the service's
            # variable, then the global one; one endpoint for every S3 call.
            endpoint = self.aws_endpoint_url_s3 or self.aws_endpoint_url
            object.__setattr__(self, "s3_endpoint_url", endpoint)
        # Ranges are TransferConfig's: checked there, for the values that parsed.
        unparsed = {problem.split(":", 1)[0] for problem in problems}
        try:
            TransferConfig(
                **{
                    name: getattr(self, setting)
                    for name, setting in _TRANSFER_FIELDS.items()
                    if setting.upper() not in unparsed
                }
            )
        except ConfigurationError as exc:
            problems.append(exc.summary)
        if problems:
            raise ConfigurationError(
                "The configuration is not valid.",
                details=problems,
                hints=["fix the variables above in the environment or .env, then retry"],
            )

    def replace(self, **values: Any) -> Settings:
        """A copy with ``values`` changed (parsed and checked like the rest)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Settings(env_file=None, **{**current, **values})

    def transfer_config(self) -> TransferConfig:
        """The S3 transfer tunables (sizes, timeouts, retries), checked by ``TransferConfig``."""
        return TransferConfig(
            **{name: getattr(self, setting) for name, setting in _TRANSFER_FIELDS.items()}
        )

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


def _dotenv_values(path: Path) -> Mapping[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k.upper(): v for k, v in dotenv_values(path).items() if v is not None}


def describe_settings(settings: Settings, env_file: Path = ENV_FILE) -> list[ConfigRow]:
    """Every setting with its value (secrets masked) and where it came from."""
    environ = {k.upper() for k in os.environ}
    dotenv = _dotenv_values(env_file)
    rows: list[ConfigRow] = []
    for field in dataclasses.fields(settings):
        env_name = field.name.upper()
        raw = getattr(settings, field.name)
        if raw is None:
            value = "(unset)"
        elif isinstance(raw, Secret):
            value = mask_secret(raw.get_secret_value())
        else:
            value = str(raw)
        if env_name in environ:
            source = "environment"
        elif env_name in dotenv:
            source = str(env_file)
        else:
            source = "default"
        rows.append(ConfigRow(env_name, value, source, field.metadata["description"]))
    return rows
