"""``api-done-*``: upload → done through the API, embedded worker vs ``ivrimeet worker``.

    python bench/cases/processing_api.py embedded|separate RECORDING OUT.json PORT IVRIMEET

One timed process (this script as a driver) starts the service, uploads the
MP3 with ``POST /api/meetings``, polls ``GET /api/meetings/{id}`` every second
until ``done``, stops the service, and writes the upload → done seconds and
each progress report it saw to OUT.json. The driver waits for the servers it
started, so the harness's CPU and peak RSS include theirs:

* ``embedded``: one ``ivrimeet serve`` (API + in-process worker);
* ``separate``: ``ivrimeet serve --no-worker`` + ``ivrimeet worker`` on the
  same SQLite queue and database.

Same bucket, models (published sizes, from the bucket's model store) and file
for both, so the ratio says whether the embedded worker is any slower.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.harness import Context, Tool

TOKEN = "bench-api-token-0123456789abcdef"


def _request(url: str, data: bytes | None = None, content_type: str = "") -> Any:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310  # loopback
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310  # loopback
        return json.loads(answer.read())


def _drive(mode: str, recording: str, out: str, port: str, ivrimeet: str) -> None:
    serve = [ivrimeet, "serve", "--host", "127.0.0.1", "--port", port]
    commands = [serve] if mode == "embedded" else [[*serve, "--no-worker"], [ivrimeet, "worker"]]
    processes = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for command in commands]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=2):  # noqa: S310  # loopback
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("ivrimeet serve did not become ready") from None
                time.sleep(0.2)
        started = time.monotonic()
        meeting = _request(f"{base}/api/meetings", Path(recording).read_bytes(), "audio/mpeg")
        seen: list[tuple[float, Any]] = []
        while True:
            state = _request(f"{base}/api/meetings/{meeting['id']}")
            if state["progress"] and (not seen or seen[-1][1] != state["progress"]):
                seen.append((round(time.monotonic() - started, 1), state["progress"]))
            if state["status"] in ("done", "failed"):
                break
            time.sleep(1.0)
        if state["status"] != "done":
            raise SystemExit(f"processing failed: {state['error']}")
        document = {
            "upload_to_done_seconds": round(time.monotonic() - started, 2),
            "progress": seen,
        }
        Path(out).write_text(json.dumps(document))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=120)


def prepare(ctx: Context, size: int) -> list[Tool]:
    from bench.cases.processing import (
        AUDIO_SECOND,
        ivrimeet_executable,
        server_env,
        warm_models,
    )
    from bench.cases.processing_recordings import meeting_recording
    from bench.harness import Tool, free_port

    seconds = size // AUDIO_SECOND
    recording = meeting_recording(ctx.workdir / "recordings", seconds, "mp3")
    env = {**server_env(ctx), "IVRIMEET_API_TOKEN": TOKEN}
    warm_models(ctx, recording, env)
    script = str(Path(__file__).resolve())
    ivrimeet = ivrimeet_executable()
    tools = []
    for mode, name, reference in (
        ("embedded", "ivrimeet serve (embedded worker)", False),
        ("separate", "ivrimeet serve --no-worker + ivrimeet worker", True),
    ):
        out = ctx.workdir / f"api-{mode}.json"
        data = ctx.workdir / f"api-data-{mode}"
        tools.append(
            Tool(
                name,
                [ctx.python, script, mode, str(recording), str(out), str(free_port()), ivrimeet],
                reference=reference,
                env={**env, "IVRIMEET_DATA_DIR": str(data)},
                after=lambda out=out, name=name: _print(out, name),
            )
        )
    return tools


def _print(out: Path, name: str) -> None:
    document = json.loads(out.read_text())
    steps = ", ".join(f"{at} s {p['step']} {p['percent']}%" for at, p in document["progress"])
    print(
        f"    {name}: upload -> done {document['upload_to_done_seconds']} s; progress seen: {steps}"
    )
    out.unlink()


if __name__ == "__main__":
    _drive(*sys.argv[1:6])
else:
    from bench.cases import register
    from bench.harness import Case, Target

    register(
        Case(
            name="api-done-10min",
            description="10 min meeting upload -> done: serve's embedded worker vs ivrimeet worker",
            full_bytes=600 * 1024 * 1024,
            quick_bytes=120 * 1024 * 1024,
            prepare=prepare,
            # "No slower": within run-to-run noise of the separate worker.
            target=Target(min_ratio=0.95),
            warm_up=False,
        )
    )
