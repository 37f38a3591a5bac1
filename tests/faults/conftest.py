"""Fixtures of the fault suite, and its end-of-session figures.

Fixtures:

* ``fault_proxy(port)``: a started ``FaultProxy`` in front of 127.0.0.1:``port``,
  stopped after the test;
* ``proxied_moto`` / ``proxied_rclone``: a fresh bucket on the session's moto or
  rclone server, reached through a new proxy (``ProxiedBucket``);
* ``small_disk(size)``: a tmpfs of ``size`` bytes (``SmallFilesystem``), unmounted after;
* ``tmp_dir``: an empty ``IVRIMEET_TMP_DIR`` for a model store;
* ``repo``: a fresh ``FaultRepo`` published on the Hub stand-in.

At the end of a session that ran any of these tests the totals are printed
(``reliability: cases=... faults=...``). With ``FAULTS_REPORT=path.md`` in the
environment, the figures table between the ``<!-- figures -->`` markers of that
file is rewritten from the same totals (``README.md``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ivrimeet.objects import S3Connection
from tests.faults import ledger
from tests.faults.diskfull import SmallFilesystem, small_filesystem
from tests.faults.models_support import FaultRepo, publish_fault_repo
from tests.faults.proxy import FaultProxy, port_of
from tests.servers.hub import StandInHub
from tests.servers.s3 import S3Server

_FAULT_NODES = "tests/faults/"
_cases: dict[str, str] = {}


@dataclass
class ProxiedBucket:
    """A bucket on ``server`` and a proxy in front of that server."""

    server: S3Server
    bucket: str
    proxy: FaultProxy

    def connection(self, **overrides: Any) -> S3Connection:
        """A connection that goes through the proxy (fast retries unless overridden)."""
        values: dict[str, Any] = {
            "endpoint_url": self.proxy.url,
            "connect_timeout": 2.0,
            "read_timeout": 5.0,
        }
        values.update(overrides)
        return self.server.connection(self.bucket, **values)

    def admin(self) -> Any:
        """An admin client that talks to the server directly, around the proxy."""
        return self.server.admin_client()


@pytest.fixture
def fault_proxy() -> Iterator[Callable[[int], FaultProxy]]:
    with ExitStack() as stack:

        def start(port: int) -> FaultProxy:
            proxy = FaultProxy(port).start()
            stack.callback(proxy.stop)
            return proxy

        yield start


def _proxied(server: S3Server, fault_proxy: Callable[[int], FaultProxy]) -> ProxiedBucket:
    bucket = server.new_bucket("faults").bucket
    return ProxiedBucket(server, bucket, fault_proxy(port_of(server.endpoint_url)))


@pytest.fixture
def proxied_moto(moto_s3: S3Server, fault_proxy: Callable[[int], FaultProxy]) -> ProxiedBucket:
    return _proxied(moto_s3, fault_proxy)


@pytest.fixture
def proxied_rclone(rclone_s3: S3Server, fault_proxy: Callable[[int], FaultProxy]) -> ProxiedBucket:
    return _proxied(rclone_s3, fault_proxy)


@pytest.fixture
def small_disk() -> Iterator[Callable[[int], SmallFilesystem]]:
    with ExitStack() as stack:

        def mount(size: int) -> SmallFilesystem:
            return stack.enter_context(small_filesystem(size))

        yield mount


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir()
    return path


@pytest.fixture
def repo(hub: StandInHub, tmp_path: Path) -> FaultRepo:
    return publish_fault_repo(hub, tmp_path / "repos")


# --- the figures ---------------------------------------------------------------------


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.nodeid.startswith(_FAULT_NODES):
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _cases[report.nodeid] = report.outcome


def figures() -> dict[str, Any]:
    """The session's figures, as written to the report."""
    totals = ledger.totals()
    outcomes = list(_cases.values())
    return {
        "cases": len(outcomes),
        "passed": outcomes.count("passed"),
        "failed": outcomes.count("failed"),
        "skipped": outcomes.count("skipped"),
        "faults_injected": sum(totals.faults.values()),
        "faults_by_kind": dict(sorted(totals.faults.items())),
        "loads_attempted": totals.loads,
        "uploads_attempted": totals.uploads,
        "corrupt_loads": totals.corrupt_loads,
        "leak_checks": totals.leak_checks,
        "leaked": sum(totals.leaks.values()),
        "leaked_by_kind": dict(sorted(totals.leaks.items())),
    }


def _table(numbers: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v}" for k, v in numbers["faults_by_kind"].items()) or "none"
    rows = [
        (
            "cases run",
            f"{numbers['cases']} ({numbers['passed']} passed, "
            f"{numbers['failed']} failed, {numbers['skipped']} skipped)",
        ),
        ("faults injected", f"{numbers['faults_injected']} ({kinds})"),
        ("model loads / downloads attempted under faults", str(numbers["loads_attempted"])),
        ("uploads attempted under faults", str(numbers["uploads_attempted"])),
        ("corrupt loads (must be 0)", str(numbers["corrupt_loads"])),
        ("leftover checks made", str(numbers["leak_checks"])),
        ("objects, uploads, rows or temp files leaked (must be 0)", str(numbers["leaked"])),
    ]
    lines = ["| figure | value |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows)]
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _cases:
        return
    numbers = figures()
    terminalreporter.write_line(
        "reliability: "
        + json.dumps({k: v for k, v in numbers.items() if not k.endswith("_by_kind")})
    )
    target = os.environ.get("FAULTS_REPORT")
    if target:
        path = Path(target)
        text = path.read_text()
        block = f"<!-- figures -->\n{_table(numbers)}\n<!-- /figures -->"
        updated, count = re.subn(
            r"<!-- figures -->.*?<!-- /figures -->", lambda _m: block, text, flags=re.S
        )
        if count:
            path.write_text(updated)
            terminalreporter.write_line(f"reliability: figures written to {path}")
