"""The fault tools: the proxy breaks real sockets, the small disk fills, kill -9 kills."""

from __future__ import annotations

import errno
import http.client
import http.server
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.diskfull import SmallFilesystem, file_size_limit, is_mounted
from tests.faults.processes import start_python
from tests.faults.proxy import FaultProxy, refused

BODY = bytes(range(256)) * 400  # 102,400 bytes


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        got = self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", str(len(got)))
        self.end_headers()
        self.wfile.write(got)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the proxy breaks connections on purpose


@pytest.fixture(scope="module")
def origin() -> Iterator[int]:
    server = _QuietServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _get(proxy: FaultProxy, path: str = "/a", timeout: float = 5.0) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        return response.read()
    finally:
        conn.close()


def test_proxy_passes_bytes_through_unchanged(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)

    assert _get(proxy) == BODY
    assert proxy.faults == 0
    assert proxy.bytes_down > len(BODY)


def test_proxy_cuts_the_chosen_request_after_n_bytes_and_spares_the_others(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)
    proxy.cut(5000, request="GET /broken")

    assert _get(proxy, "/fine") == BODY
    with pytest.raises(http.client.IncompleteRead) as caught:
        _get(proxy, "/broken")
    assert _get(proxy, "/broken") == BODY, "times=1: the next request passes"

    assert 0 < len(caught.value.partial) <= 5000
    assert proxy.faults == 1


def test_proxy_cut_upstream_stops_the_upload_midway(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)
    proxy.cut(2000, direction="up")
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)

    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, BrokenPipeError)):
        conn.request("PUT", "/x", body=BODY)
        conn.getresponse().read()

    assert proxy.bytes_up <= 2000
    assert proxy.faults == 1


def test_proxy_refuses_connections_while_down_and_serves_again_on_the_same_port(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)
    port = proxy.port

    proxy.refuse()
    assert refused(port)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

    proxy.accept()
    assert proxy.port == port
    assert _get(proxy) == BODY


def test_proxy_stall_makes_the_client_time_out(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)
    proxy.stall(1000)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        _get(proxy, timeout=0.5)

    assert time.monotonic() - started < 5
    proxy.clear()
    assert _get(proxy) == BODY


def test_proxy_latency_delays_each_chunk(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    proxy = fault_proxy(origin)
    proxy.latency(0.1)

    started = time.monotonic()
    assert _get(proxy) == BODY

    assert time.monotonic() - started >= 0.2  # request chunk + at least one response chunk


def test_proxy_random_cuts_are_repeatable_for_a_seed(
    origin: int, fault_proxy: Callable[[int], FaultProxy]
) -> None:
    def run(seed: int) -> list[bool]:
        proxy = fault_proxy(origin)
        proxy.cut_randomly(0.3, seed=seed, max_bytes=20_000)
        outcomes = []
        for _ in range(30):
            try:
                outcomes.append(_get(proxy) == BODY)
            except (http.client.HTTPException, ConnectionError):
                outcomes.append(False)
        return outcomes

    first, again = run(7), run(7)

    assert first == again
    assert 3 <= first.count(False) <= 18, first  # about 30 %


def test_small_disk_runs_out_of_space_with_enospc(
    small_disk: Callable[[int], SmallFilesystem],
) -> None:
    disk = small_disk(1024 * 1024)
    assert is_mounted(disk.path)

    fd = os.open(disk.path / "big", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as caught:
            for _ in range(3):
                os.write(fd, b"x" * (1024 * 1024))
    finally:
        os.close(fd)

    assert caught.value.errno == errno.ENOSPC


def test_small_disk_leaves_the_asked_free_space(
    small_disk: Callable[[int], SmallFilesystem],
) -> None:
    disk = small_disk(8 * 1024 * 1024)

    disk.leave_free(1024 * 1024)

    assert 1024 * 1024 - 8192 <= disk.free <= 1024 * 1024 + 8192
    assert disk.entries() == []


def test_file_size_limit_makes_a_child_fail_with_efbig(tmp_path: Path) -> None:
    child = start_python(
        """
        import errno
        try:
            with open("big", "wb") as out:
                out.write(b"x" * 200_000)
        except OSError as exc:
            print("ERRNO", errno.errorcode[exc.errno], flush=True)
        """,
        env={},
        cwd=tmp_path,
        preexec=file_size_limit(100_000),
    )
    try:
        assert child.wait() == 0
        assert "ERRNO EFBIG" in child.log()
    finally:
        child.stop()


def test_kill9_stops_a_child_at_the_marked_point(tmp_path: Path) -> None:
    child = start_python(
        """
        import sys
        print("READY", flush=True)
        sys.stdin.read()
        print("NEVER", flush=True)
        """,
        env={},
        cwd=tmp_path,
    )
    try:
        child.wait_for("READY")
        child.kill9()
        assert child.process.returncode == -9
        assert "NEVER" not in child.log()
    finally:
        child.stop()


def test_kill_helper_reports_a_child_that_died_early(tmp_path: Path) -> None:
    child = start_python("raise SystemExit(3)", env={}, cwd=tmp_path)
    try:
        with pytest.raises(AssertionError, match="exited"):
            child.wait_for("NEVER", timeout=10)
    finally:
        child.stop()
    assert sys.executable  # the helper ran the same interpreter
