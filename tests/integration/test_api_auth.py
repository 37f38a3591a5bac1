"""Bearer-token auth on /api/*: missing, wrong and query-string tokens get 401."""

from __future__ import annotations

import httpx
import pytest

from tests.servers.api import API_TOKEN, ApiServer, SettingsFactory, run_api


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0000000000000000"},
        {"Authorization": f"Bearer {API_TOKEN}x"},
        {"Authorization": f"Basic {API_TOKEN}"},
        {"Authorization": API_TOKEN},
    ],
    ids=["missing", "wrong", "longer", "basic-scheme", "no-scheme"],
)
def test_api_without_the_right_bearer_token_is_401(
    local_api: ApiServer, headers: dict[str, str]
) -> None:
    answer = httpx.get(f"{local_api.url}/api/meetings", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert API_TOKEN not in answer.text


@pytest.mark.parametrize("name", ["token", "access_token", "api_key"])
def test_token_in_the_query_string_is_refused_even_when_correct(
    local_api: ApiServer, name: str
) -> None:
    answer = httpx.get(f"{local_api.url}/api/meetings", params={name: API_TOKEN})
    assert answer.status_code == 401
    assert "query string" in answer.json()["message"]
    with local_api.client() as client:
        assert client.get("/api/meetings", params={name: API_TOKEN}).status_code == 401


def test_right_token_is_accepted(local_api: ApiServer) -> None:
    with local_api.client() as client:
        assert client.get("/api/meetings").status_code == 200


def test_health_readiness_and_metrics_need_no_token(local_api: ApiServer) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{local_api.url}{path}").status_code == 200, path


def test_without_a_configured_token_the_api_is_open(api_settings: SettingsFactory) -> None:
    with run_api(api_settings(ivrimeet_api_token=None)) as api:
        assert httpx.get(f"{api.url}/api/meetings").status_code == 200
