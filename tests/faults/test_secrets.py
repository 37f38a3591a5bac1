"""Recognisable fake secrets (S3 secret key and session token, Hub token, API token, database
password) through failing and succeeding runs: none may appear in a log line, a child's output,
an API response, an error message or the text of any exception in the chain."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ivrimeet.errors import IvrimeetError
from ivrimeet.models import HubAccess, ModelStore, materialize
from ivrimeet.objects import S3Store
from tests.faults import ledger
from tests.faults.conftest import ProxiedBucket
from tests.faults.models_support import publish_fault_repo
from tests.faults.proxy import FaultProxy
from tests.faults.test_meetings_faults import DB_PASSWORD, wav
from tests.servers.api import API_TOKEN, SettingsFactory, run_api, s3_overrides
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.s3 import TEST_SECRET_KEY, S3Server

SESSION_TOKEN = "IVRIMEETsessionTOKENdoNOTprint0123456789"
SECRETS = (TEST_SECRET_KEY, SESSION_TOKEN, TEST_TOKEN, API_TOKEN, DB_PASSWORD)


def exception_texts(exc: BaseException) -> list[str]:
    """str() and repr() of ``exc`` and of every exception chained to it."""
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current)]
        if isinstance(current, IvrimeetError):
            texts.append(current.render())
        current = current.__cause__ or current.__context__
    return texts


def assert_clean(where: str, texts: list[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"a secret leaked into {where}: ...{text[-300:]}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every ivrimeet log record at DEBUG, third-party ones at WARNING (as in production)."""
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="ivrimeet")
    yield caplog
    assert_clean("a log line", [r.getMessage() for r in caplog.records])


def test_model_loads_failing_every_way_never_show_the_keys_or_the_hub_token(
    proxied_moto: ProxiedBucket,
    hub: StandInHub,
    fault_proxy,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    logs: pytest.LogCaptureFixture,
) -> None:
    repo = publish_fault_repo(hub, tmp_path / "repos", big=False)
    hub_proxy: FaultProxy = fault_proxy(int(hub.endpoint.rsplit(":", 1)[1]))
    objects = S3Store(proxied_moto.connection(session_token=SESSION_TOKEN, max_attempts=1))
    store = ModelStore(
        objects, hub=HubAccess(endpoint=hub_proxy.url, token=TEST_TOKEN), tmp_dir=tmp_path / "t"
    )
    caught: list[BaseException] = []
    for fault in ("s3 down", "s3 and hf down", "gated without the right token", "none"):
        proxied_moto.proxy.clear()
        if fault.startswith("s3"):
            proxied_moto.proxy.refuse()
        else:
            proxied_moto.proxy.accept()
        if fault == "s3 and hf down":
            hub_proxy.refuse()
        else:
            hub_proxy.accept()
        if fault.startswith("gated"):
            hub.gate(repo.repo_id)
            hub.tokens = frozenset({"hf_some_other_token_000000"})
        if fault != "none":
            ledger.fault(f"secrets: {fault}")
        ledger.load()
        try:
            with materialize(store, repo.repo_id):
                pass
        except IvrimeetError as exc:
            caught.append(exc)
        finally:
            hub.ungate(repo.repo_id)
            hub.tokens = frozenset({TEST_TOKEN})

    assert len(caught) >= 2, "the failing runs did fail"
    for exc in caught:
        assert_clean("an exception", exception_texts(exc))


@pytest.mark.slow  # botocore's retries against a dead endpoint: ~15 s
def test_api_answers_and_logs_never_show_the_token_keys_or_database_password(
    proxied_moto: ProxiedBucket,
    api_settings: SettingsFactory,
    postgres_url: str,
    fault_proxy,  # type: ignore[no-untyped-def]
    logs: pytest.LogCaptureFixture,
) -> None:
    db_proxy: FaultProxy = fault_proxy(5432)
    url = postgres_url.replace(
        "postgres@127.0.0.1:5432", f"postgres:{DB_PASSWORD}@127.0.0.1:{db_proxy.port}"
    )
    overrides = s3_overrides(proxied_moto.server, proxied_moto.bucket)
    overrides.update(s3_endpoint_url=proxied_moto.proxy.url, aws_session_token=SESSION_TOKEN)
    answers: list[httpx.Response] = []
    with run_api(api_settings(**overrides, database_url=url)) as api, api.client() as client:
        ledger.upload(3)
        created = client.post(
            "/api/meetings", content=wav(100_000), headers={"Content-Type": "audio/wav"}
        )
        answers += [created, client.get(f"/api/meetings/{created.json()['id']}")]
        proxied_moto.proxy.refuse()
        answers.append(
            client.post(
                "/api/meetings", content=wav(100_000), headers={"Content-Type": "audio/wav"}
            )
        )
        proxied_moto.proxy.accept()
        db_proxy.refuse()
        answers += [
            client.get("/api/meetings"),
            client.post(
                "/api/meetings", content=wav(100_000), headers={"Content-Type": "audio/wav"}
            ),
        ]
        db_proxy.accept()
        answers.append(client.get("/api/meetings", headers={"Authorization": "Bearer wrong"}))
        answers.append(client.get("/readyz"))
        answers.append(client.get("/metrics"))
    ledger.fault("secrets: s3 down", 1)
    ledger.fault("secrets: database down", 1)

    assert [a.status_code for a in answers[:5]] == [201, 200, 503, 503, 503]
    assert_clean(
        "an API answer",
        [a.text for a in answers] + [f"{k}: {v}" for a in answers for k, v in a.headers.items()],
    )


@pytest.mark.slow  # botocore's retries against a dead endpoint: ~15 s
def test_the_cli_in_a_real_process_never_prints_the_keys(moto_s3: S3Server, tmp_path: Path) -> None:
    bucket = moto_s3.new_bucket().bucket
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "HF_"))},
        "S3_BUCKET": bucket,
        "S3_REGION": moto_s3.region,
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: every check fails
        "AWS_ACCESS_KEY_ID": moto_s3.access_key,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "AWS_SESSION_TOKEN": SESSION_TOKEN,
        "HF_TOKEN": TEST_TOKEN,
        "IVRIMEET_API_TOKEN": API_TOKEN,
        "DATABASE_URL": f"postgresql://u:{DB_PASSWORD}@127.0.0.1:9/x",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    outputs = []
    for argv in (["ivrimeet", "-v", "doctor"], ["ivrimeet", "-v", "config"]):
        done = subprocess.run(
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
        outputs += [done.stdout, done.stderr]
    ledger.fault("secrets: s3 down")

    assert "FAIL bucket" in outputs[0]
    assert_clean("a child's output", outputs)
