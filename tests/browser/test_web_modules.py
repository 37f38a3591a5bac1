"""The page's pure helpers, run in the browser as the page loads them (ES modules from /static)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import watched_page
from tests.servers.api import run_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def module_page(chromium: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from ivrimeet.settings import Settings

    # Module-scoped, so built before the per-test environment scrub: every input explicit.
    settings = Settings(
        env_file=None,
        ivrimeet_data_dir=tmp_path_factory.mktemp("modules") / "data",
        ivrimeet_api_token=None,
        s3_bucket=None,
        database_url=None,
        redis_url=None,
        ivrimeet_queue_name="web-modules",
    )
    with run_api(settings) as api, watched_page(chromium, api.url) as page:
        page.goto(api.url + "/")
        yield page


def call(page: Any, module: str, expression: str) -> Any:
    """Evaluate ``expression`` with module ``m`` (imported from /static/<module>) in the page."""
    return page.evaluate(f"import('/static/{module}').then((m) => {expression})")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("m.clock(65)", "1:05"),
        ("m.clock(3723)", "1:02:03"),
        ("m.duration(45)", "45 s"),
        ("m.duration(185)", "3 min 5 s"),
        ("m.duration(3720)", "1 h 2 min"),
        ("m.bytes(999)", "999 bytes"),
        ("m.bytes(1_300_000)", "1.3 MB"),
        ("m.rate(2_500_000)", "2.5 MB/s"),
        ("m.remaining(12.4)", "about 12 s left"),
        ("m.percent(1, 3)", "33%"),
    ],
)
def test_numbers_read_the_way_people_say_them(
    module_page: Any, expression: str, expected: str
) -> None:
    assert call(module_page, "format.js", expression) == expected


@pytest.mark.parametrize(
    ("seconds", "width", "step"),
    [(40, 600, 5), (40, 250, 15), (3600, 300, 900), (3600, 1200, 300), (5, 600, 1)],
)
def test_axis_ticks_are_round_and_never_crowded(
    module_page: Any, seconds: int, width: int, step: int
) -> None:
    assert call(module_page, "timeline.js", f"m.tickStep({seconds}, {width})") == step
    assert width / (seconds / step) >= 72 or seconds / step <= 2


def test_the_servers_error_body_gives_its_first_line(module_page: Any) -> None:
    body = '{"code": "too_large", "message": "The recording is over 2 GiB.\\\\nWhat to do: ..."}'
    assert call(module_page, "api.js", f"m.serverDetail('{body}')") == (
        "The recording is over 2 GiB."
    )
    assert call(module_page, "api.js", "m.serverDetail('<html>proxy error</html>')") == ""


def test_a_413_names_the_limit(module_page: Any) -> None:
    message = call(module_page, "api.js", "m.plainMessage(413, '', {maxUploadBytes: 2 ** 31})")
    assert "the limit is 2 GiB" in message


def test_upload_speed_is_measured_over_the_last_seconds(module_page: Any) -> None:
    samples = (
        "[{t: 0, loaded: 0}, {t: 1000, loaded: 100}, {t: 5000, loaded: 4100},"
        " {t: 6000, loaded: 5100}]"
    )
    # Only the last 3 s count: from t=5000 to t=6000, 1000 bytes → 1000 B/s (not 850 overall).
    assert call(module_page, "upload.js", f"m.recentSpeed({samples})") == 1000
