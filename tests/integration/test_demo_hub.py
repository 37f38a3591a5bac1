"""``scripts/demo_hub.py``, the README's offline demo, serves what its export lines promise.

The script runs as a user runs it (a child process, its own port); a second
child with nothing but the printed variables downloads every model it names
with the real ``huggingface_hub``, and Ctrl-C stops it with nothing left behind.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.servers.process import free_port, run_server
from tests.waiting import wait_until

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_hub.py"

_DOWNLOAD_EVERY_MODEL = """
    import os
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError

    token = os.environ.pop("HF_TOKEN")
    community = "pyannote/speaker-diarization-community-1"
    try:
        snapshot_download(community)
    except GatedRepoError:
        print("gated without token")
    for repo in (os.environ["DIARIZATION_PIPELINE"], os.environ["EMBEDDING_MODEL"], community):
        folder = snapshot_download(repo, token=token)
        print("downloaded", repo, sorted(os.listdir(folder)))
"""


def _exports(log: str) -> dict[str, str]:
    """``NAME=value`` of every ``export`` line the script printed."""
    exports: dict[str, str] = {}
    for line in log.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = shlex.split(value)[0]
    return exports


@pytest.mark.slow  # builds the tiny repos in a fresh process (~15 s)
def test_demo_hub_serves_what_it_prints_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    script_tmp = tmp_path / "script-tmp"
    script_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(script_tmp)}
    with run_server(
        [sys.executable, str(SCRIPT), "--port", str(port)],
        port,
        env=env,
        cwd=tmp_path,
        timeout=180,
        name="demo-hub",
    ) as server:

        def exports_printed() -> dict[str, str]:
            exports = _exports(server.log_path.read_text())
            return exports if "EMBEDDING_MODEL" in exports else {}

        exports = wait_until(exports_printed, timeout=120, message="the export lines")
        assert exports["HF_ENDPOINT"] == f"http://127.0.0.1:{port}"
        assert set(exports) == {
            "HF_ENDPOINT",
            "HF_TOKEN",
            "DIARIZATION_PIPELINE",
            "EMBEDDING_MODEL",
        }

        clean_env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "HF_HOME": str(tmp_path / "hf-home"),
            **exports,
        }
        download = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_DOWNLOAD_EVERY_MODEL)],
            env=clean_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert download.returncode == 0, download.stderr[-3000:]
        lines = download.stdout.splitlines()
        assert lines[0] == "gated without token"
        assert lines[1].startswith(f"downloaded {exports['DIARIZATION_PIPELINE']} ")
        assert "config.yaml" in lines[1]
        assert lines[2].startswith(f"downloaded {exports['EMBEDDING_MODEL']} ")
        assert "hyperparams.yaml" in lines[2]
        assert "'plda'" in lines[3]

        server.process.send_signal(signal.SIGINT)
        assert server.process.wait(timeout=30) == 0, server.log_tail()
        assert server.log_tail().endswith("stopped")
    assert list(script_tmp.iterdir()) == []


def test_demo_hub_says_which_port_is_taken_before_building_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(SCRIPT), "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "try --port" in result.stderr
    assert "building" not in result.stderr
