"""Browser-test fixtures: a real ``ivrimeet serve`` and Debian's chromium driven by Playwright.

* ``served_ivrimeet`` (module): ``ivrimeet serve`` as a child process on a free
  port, local store in a temporary data dir, an API token, and the tiny models
  from the Hub stand-in; ``ServedIvrimeet.api()`` is an httpx client with the token.
* ``chromium`` (package): the browser (``/usr/bin/chromium``, headless).
* ``page`` (function): a fresh context and page at desktop size; fails the test
  if the page throws a JavaScript error or asks any other origin for anything
  (``watched_page(chromium, *origins)`` is the same for any server).
* ``assert_accessible(page, where)``: axe-core finds no WCAG violation on the page.

``playwright install`` cannot download browsers here: apt's ``chromium`` is used
(``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.hubrepos import PIPELINE, SPEECHBRAIN_ECAPA
from tests.servers.hub import TEST_TOKEN, StandInHub
from tests.servers.process import free_port, run_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
API_TOKEN = "browser-test-token-4f1c2a9e"
#: Small enough that a generated file can be over it, large enough for the test recording.
MAX_UPLOAD_BYTES = 6 * 1024 * 1024
_CHILD_SCRUBBED = ("AWS_", "S3_", "HF_", "HUGGING_FACE", "IVRIMEET_", "DATABASE_URL", "REDIS_URL")


@dataclass
class ServedIvrimeet:
    """A running ``ivrimeet serve``: its base URL and token."""

    url: str
    token: str
    data_dir: Path

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


@pytest.fixture(scope="module")
def served_ivrimeet(
    tmp_path_factory: pytest.TempPathFactory, hub_standin: StandInHub
) -> Iterator[ServedIvrimeet]:
    """``ivrimeet serve`` with the local store, a token and the tiny models of the Hub stand-in."""
    executable = shutil.which("ivrimeet")
    assert executable, "the ivrimeet command is not installed: pip install -e '.[ml,dev]'"
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CHILD_SCRUBBED)}
    env.update(
        {
            "IVRIMEET_API_TOKEN": API_TOKEN,
            "IVRIMEET_DATA_DIR": str(root / "data"),
            "IVRIMEET_TMP_DIR": str(root / "tmp"),
            "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "SNIPPET_SECONDS": "5",  # the test listens to a snippet to its end
            "HF_TOKEN": TEST_TOKEN,
            "HF_HOME": str(root / "hf-home"),
            "DIARIZATION_PIPELINE": PIPELINE,
            "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
            "PYANNOTE_METRICS_ENABLED": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "AWS_EC2_METADATA_DISABLED": "true",
            **hub_standin.client_env(),
        }
    )
    (root / "tmp").mkdir()

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    argv = [executable, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with run_server(
        argv, port, env=env, ready=healthy, timeout=60, name="ivrimeet-serve", cwd=root
    ) as running:
        served = ServedIvrimeet(f"http://127.0.0.1:{port}", API_TOKEN, root / "data")
        yield served
        print(running.log_tail(60))


def assert_accessible(page: Any, where: str) -> None:
    """axe-core (WCAG 2 A/AA rules, colour contrast included) finds nothing on ``page``."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    violations = Axe().run(page).response["violations"]
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
    ]
    assert not found, f"accessibility problems on {where}: {found}"


@pytest.fixture(scope="package")
def chromium() -> Iterator[Any]:
    """Headless chromium from apt, closed after the browser tests.

    Not session-wide: Playwright's sync API keeps an asyncio loop marked running
    in this thread while it is open, which would upset later asyncio tests.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What a page did that it must not: JavaScript errors, requests to unexpected origins."""

    origins: tuple[str, ...]
    errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" not in self.origins:
            self.foreign_requests.append(url)


@contextmanager
def watched_page(chromium: Any, *origins: str) -> Iterator[Any]:
    """A fresh desktop-size page that may talk to ``origins`` only and must not throw."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = PageWatch(origins)
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("request", lambda request: watch.request(request.url))
    try:
        yield page
    finally:
        context.close()
    assert not watch.errors, f"the page threw: {watch.errors}"
    assert not watch.foreign_requests, f"the page asked other origins: {watch.foreign_requests}"


@pytest.fixture
def page(chromium: Any, served_ivrimeet: ServedIvrimeet) -> Iterator[Any]:
    """A page of ``served_ivrimeet``; the test fails on a JS error or a request elsewhere."""
    with watched_page(chromium, served_ivrimeet.url) as page:
        yield page
