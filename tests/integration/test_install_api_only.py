"""The API image's install: no ML stack, under its size budget, and it serves uploads.

Builds the ``api`` Dockerfile target's environment in a new venv the way the
Dockerfile does (``pip install -c requirements.lock .``, then
``scripts/slim_venv.sh``), so a dependency that drags torch (or 100 MB of anything)
into the API image, or an API import that needs the ``ml`` extra, fails here.
"""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bench.install_size import BUDGET_MB, MB, build_api, tree_bytes

from tests.servers.process import free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = build_api(tmp_path_factory.mktemp("api-image") / "venv")
    subprocess.run([str(ROOT / "scripts" / "slim_venv.sh"), str(venv)], check=True)
    return venv


def _wav(seconds: float = 1.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\x00\x01" * int(16000 * seconds))
    return out.getvalue()


def test_api_install_is_within_its_budget_and_has_no_ml_stack(api_venv: Path) -> None:
    size_mb = tree_bytes(api_venv) / MB
    assert size_mb <= BUDGET_MB["api"], f"API install is {size_mb:.0f} MB"

    python = str(api_venv / "bin" / "python")
    for module in ("torch", "torchaudio", "pyannote.audio", "speechbrain"):
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
        assert probe.returncode != 0, f"{module} is importable in the API image"
    version = subprocess.run(
        [str(api_venv / "bin" / "ivrimeet"), "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("ivrimeet "), version.stderr
    assert (api_venv / "bin" / "setup_s3_models.sh").is_file()


@pytest.fixture
def api_only_server(api_venv: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    env = {
        "PATH": f"{api_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "IVRIMEET_DATA_DIR": str(tmp_path / "data"),
    }
    process = subprocess.Popen(
        [str(api_venv / "bin" / "ivrimeet"), "serve", "--no-worker", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or httpx.get(f"{base}/healthz").status_code == 200,
            timeout=60,
            message="the API-only server answering /healthz",
        )
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_api_only_install_serves_an_upload(api_only_server: str) -> None:
    with httpx.Client(base_url=api_only_server, timeout=30) as client:
        answer = client.post("/api/meetings", content=_wav(), headers={"Content-Type": "audio/wav"})
        assert answer.status_code == 201, answer.text
        meeting = answer.json()
        listed = client.get("/api/meetings").json()
    assert meeting["id"] in str(listed)
