"""Run a real server as a child process on a free loopback port, for fixtures."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.waiting import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningProcess:
    """A started server: its process, port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def run_server(
    argv: Sequence[str],
    port: int,
    *,
    env: Mapping[str, str] | None = None,
    ready: Callable[[], bool] | None = None,
    timeout: float = 30.0,
    name: str = "server",
    cwd: Path | None = None,
) -> Iterator[RunningProcess]:
    """Start ``argv``, wait until ``ready()`` (default: the port accepts), yield, stop.

    If the server never becomes ready, fail with its last log lines.
    """
    log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
    child_env = dict(os.environ if env is None else env)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=cwd,
            start_new_session=True,
        )
    running = RunningProcess(proc, port, log)
    try:
        check = ready or (lambda: port_accepts(port))

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{running.log_tail()}")
            return check()

        try:
            wait_until(up, timeout=timeout, message=f"{name} ready on port {port}")
        except TimeoutError as exc:
            raise RuntimeError(f"{name} never became ready:\n{running.log_tail()}") from exc
        yield running
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.unlink(missing_ok=True)
