"""Real child processes the fault suite can ``kill -9`` at a chosen point.

``start_python(script, env=..., cwd=...)`` runs a Python snippet (dedented) in
a fresh interpreter with the repository on ``PYTHONPATH`` and its stdout and
stderr in one log file; ``Child.wait_for(text)`` waits until the log shows a
line containing ``text`` (a log event such as ``object.part``), and
``Child.kill9()`` sends SIGKILL to its whole process group (the child and
anything it started), then reaps it. The kill counts as a fault in the ledger.

A child that should stop at an exact point can print a marker and block
(``print("READY", flush=True); sys.stdin.read()``): the test waits for the marker
and kills it there, without any sleep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.faults import ledger
from tests.waiting import wait_until

__all__ = ["REPO_ROOT", "Child", "start_python"]

REPO_ROOT = Path(__file__).resolve().parents[2]
_EXITED = "\0exited"


@dataclass
class Child:
    """A started child process and its combined log."""

    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, *, timeout: float = 60.0) -> str:
        """Wait until a log line contains ``text``; return that line. Fails if the child exits."""

        def seen() -> str | None:
            for line in self.log().splitlines():
                if text in line:
                    return line
            # Exited without it: stop polling (the empty string is falsy, "exited" is not).
            return "" if self.process.poll() is None else _EXITED

        try:
            line = wait_until(seen, timeout=timeout, message=f"child logged {text!r}")
        except TimeoutError as exc:
            raise AssertionError(f"no {text!r} within {timeout}s:\n{self.log()[-3000:]}") from exc
        if line is _EXITED:
            raise AssertionError(
                f"child exited ({self.process.returncode}) before logging {text!r}:\n"
                + self.log()[-3000:]
            )
        return line

    def kill9(self) -> None:
        """SIGKILL the child's process group (nothing runs a handler) and reap it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.process.wait(timeout=30)
        self._close_stdin()
        ledger.fault("kill -9")

    def wait(self, timeout: float = 120.0) -> int:
        self._close_stdin()
        return self.process.wait(timeout=timeout)

    def _close_stdin(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    def stop(self) -> None:
        """Make sure the child is gone (for ``finally`` blocks)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._close_stdin()
        self.log_path.unlink(missing_ok=True)


def start_python(
    script: str,
    *,
    env: Mapping[str, str],
    cwd: Path,
    preexec: Callable[[], None] | None = None,
) -> Child:
    """Run ``script`` in a fresh interpreter (own process group) with ``env`` added."""
    log_path = Path(tempfile.mkstemp(prefix="fault-child-", suffix=".log")[1])
    full_env = {**os.environ, **env, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(script)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,  # only resource limits, set before exec
        )
    return Child(process, log_path)
