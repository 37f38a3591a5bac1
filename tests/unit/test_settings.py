from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ivrimeet.errors import ConfigurationError
from ivrimeet.logs import RedactSecrets
from ivrimeet.settings import Secret, Settings, describe_settings, mask_secret

SECRET = "wJalrXUtnFEMI-fake-secret-for-tests-0123"


def test_settings_read_the_names_users_already_know(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET", "meetings-prod")
    monkeypatch.setenv("S3_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("IVRIMEET_DATA_DIR", "/srv/ivrimeet")
    monkeypatch.setenv("SNIPPET_SECONDS", "12")
    settings = Settings()
    assert settings.s3_bucket == "meetings-prod"
    assert settings.s3_region == "eu-west-1"
    assert settings.uses_s3
    assert settings.ivrimeet_data_dir == Path("/srv/ivrimeet")
    assert settings.snippet_seconds == 12
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert settings.aws_secret_access_key == Secret(SECRET)
    assert settings.aws_secret_access_key.get_secret_value() == SECRET


def test_blank_bucket_means_local_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET", "  ")
    assert not Settings().uses_s3


def test_model_prefix_is_normalised_to_one_trailing_slash() -> None:
    assert Settings(model_prefix="/models//").model_prefix == "models/"
    assert Settings(model_prefix="").model_prefix == ""


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNIPPET_SECONDS", "fifteen")
    with pytest.raises(ConfigurationError) as info:
        Settings()
    assert "SNIPPET_SECONDS: 'fifteen' is not a valid float" in info.value.render()


def test_every_malformed_value_is_reported_at_once_without_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "0")
    monkeypatch.setenv("transfer_concurrency", "2.5")  # names are case-insensitive
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    monkeypatch.setenv("IVRIMEET_QUEUE_NAME", "a queue")
    monkeypatch.setenv("UPLOAD_PART_SIZE", str(1024))
    with pytest.raises(ConfigurationError) as info:
        Settings(hf_token=12345)  # a secret of the wrong type: its value is not shown
    details = info.value.details
    assert "PORT: 0 is out of range: must be >= 1" in details
    assert "TRANSFER_CONCURRENCY: '2.5' is not a valid int" in details
    assert "LOG_LEVEL: 'chatty' is not one of DEBUG, INFO, WARNING, ERROR" in details
    assert "IVRIMEET_QUEUE_NAME: 'a queue' does not match [A-Za-z0-9_.-]{1,64}" in details
    upload = "UPLOAD_PART_SIZE: upload_part_size=1024 is out of range (5242880..5368709120)."
    assert upload in details
    assert "HF_TOKEN: malformed" in details
    assert len(details) == 6


def test_values_are_typed_and_the_order_is_argument_environment_dotenv_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("PORT=7000\nSNIPPET_SECONDS=9\nLOG_LEVEL=debug\nS3_REGION=eu-west-3\n")
    monkeypatch.setenv("PORT", "7500")
    monkeypatch.setenv("S3_REGION", "")
    settings = Settings(env_file=env_file, snippet_seconds=3)
    assert settings.port == 7500
    assert settings.snippet_seconds == 3.0
    assert settings.log_level == "DEBUG"
    assert settings.s3_region is None  # blank in the environment wins over the file, unset
    assert settings.max_upload_bytes == 2 * 1024**3
    assert Settings(env_file=None).snippet_seconds == 15.0  # no file: the default
    changed = settings.replace(port=9000)
    assert (changed.port, changed.log_level, settings.port) == (9000, "DEBUG", 7500)
    with pytest.raises(TypeError, match="no field s3_buckt"):
        Settings(s3_buckt="typo")
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]  # frozen


def test_dotenv_file_is_read_and_reported_as_source(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"S3_BUCKET=from-dotenv\nHF_TOKEN=hf_{'x' * 30}abcd\n")
    settings = Settings()
    rows = {row.name: row for row in describe_settings(settings, tmp_path / ".env")}
    assert rows["S3_BUCKET"].value == "from-dotenv"
    assert rows["S3_BUCKET"].source.endswith(".env")
    assert rows["HF_TOKEN"].value == "****abcd"
    assert rows["S3_REGION"].source == "default"


def test_describe_masks_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@db/app")
    rows = describe_settings(Settings())
    assert all(SECRET not in row.value for row in rows)
    by_name = {row.name: row for row in rows}
    assert by_name["AWS_SECRET_ACCESS_KEY"].source == "environment"


def test_short_secrets_are_fully_masked() -> None:
    assert mask_secret("abc123") == "****"


def test_log_filter_redacts_configured_secrets(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    handler_filter = RedactSecrets([SECRET])
    logger.addFilter(handler_filter)
    try:
        with caplog.at_level(logging.INFO, logger="test.redaction"):
            logger.info("connecting with %s to %s", SECRET, "db")
    finally:
        logger.removeFilter(handler_filter)
    assert SECRET not in caplog.text
    assert "connecting with **** to db" in caplog.text
