from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from ivrimeet.logs import RedactSecrets
from ivrimeet.settings import Settings, describe_settings, mask_secret

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
    assert SECRET not in str(settings.model_dump())


def test_blank_bucket_means_local_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_BUCKET", "  ")
    assert not Settings().uses_s3


def test_model_prefix_is_normalised_to_one_trailing_slash() -> None:
    assert Settings(model_prefix="/models//").model_prefix == "models/"
    assert Settings(model_prefix="").model_prefix == ""


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNIPPET_SECONDS", "fifteen")
    with pytest.raises(ValidationError) as info:
        Settings()
    assert "snippet_seconds" in str(info.value)


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
