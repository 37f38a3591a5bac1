"""The page's assets as the API serves them: types, caching, compression, nothing external."""

from __future__ import annotations

import gzip
import re
from importlib import resources

import pytest
from fastapi.testclient import TestClient

from ivrimeet.api import create_app
from ivrimeet.settings import Settings

WEB = resources.files("ivrimeet") / "web"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(max_upload_bytes=123_456_789)))


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_index_is_html_revalidated_every_time_with_a_strict_content_security_policy(
    client: TestClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_index_refers_to_every_asset_by_its_current_version_and_each_is_immutable(
    client: TestClient,
) -> None:
    urls = asset_urls(client.get("/").text)
    assert {url.split("?")[0] for url in urls} >= {
        "/static/app.js",
        "/static/app.css",
        "/static/icon.svg",
    }
    for url in urls:
        assert "?v=" in url, url
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_an_asset_asked_for_without_its_version_is_revalidated(client: TestClient) -> None:
    response = client.get("/static/app.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    stale = client.get("/static/app.js?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("timeline.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
def test_each_asset_is_served_with_its_content_type(
    client: TestClient, name: str, content_type: str
) -> None:
    response = client.get(f"/static/{name}")
    assert response.headers["content-type"] == content_type
    assert response.content == (WEB / name).read_bytes()


def test_an_unchanged_asset_answers_304_to_its_etag(client: TestClient) -> None:
    first = client.get("/static/app.css")
    again = client.get("/static/app.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    other = client.get("/static/app.css", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_index_answers_304_while_unchanged(client: TestClient) -> None:
    etag = client.get("/").headers["etag"]
    assert client.get("/", headers={"If-None-Match": etag}).status_code == 304


def test_text_assets_are_gzipped_only_for_clients_that_accept_it(client: TestClient) -> None:
    raw = (WEB / "meeting.js").read_bytes()
    zipped = client.get("/static/meeting.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == raw  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(raw)
    plain = client.get("/static/meeting.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == raw
    assert gzip.decompress(gzip.compress(raw)) == raw


def test_head_gives_the_headers_without_a_body(client: TestClient) -> None:
    response = client.head("/static/app.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len((WEB / "app.js").read_bytes())


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/../settings.py",
        "/static/%2e%2e/settings.py",
        "/static/index.html",
        "/static/",
    ],
)
def test_anything_but_a_shipped_asset_is_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_the_page_knows_the_upload_limit_so_it_can_refuse_a_large_file_before_sending(
    client: TestClient,
) -> None:
    html = client.get("/").text
    assert '<meta name="ivrimeet-max-upload-bytes" content="123456789">' in html


def test_audio_comes_from_this_origin_only_even_when_objects_live_in_s3() -> None:
    settings = Settings(s3_bucket="meetings", s3_endpoint_url="http://127.0.0.1:9000")
    policy = TestClient(create_app(settings)).get("/").headers["content-security-policy"]
    media = next(p for p in policy.split("; ") if p.startswith("media-src"))
    assert media == "media-src 'self' blob:"


def test_every_module_a_script_imports_is_shipped() -> None:
    scripts = {entry.name for entry in WEB.iterdir() if entry.name.endswith(".js")}
    imports = {
        (script, target)
        for script in scripts
        for target in re.findall(r'from "\./([^"]+)"', (WEB / script).read_text())
    }
    assert imports, "the page's scripts import nothing: the pattern no longer matches"
    missing = {(script, target) for script, target in imports if target not in scripts}
    assert not missing


def test_no_asset_refers_to_another_origin() -> None:
    allowed = {"http://www.w3.org/2000/svg"}
    for entry in WEB.iterdir():
        if entry.name.endswith((".html", ".js", ".css", ".svg")):
            found = set(re.findall(r"https?://[^\s\"'`)]+", entry.read_text())) - allowed
            assert not found, f"{entry.name} refers to {found}"
