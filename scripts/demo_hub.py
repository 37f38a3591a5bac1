"""Serve the test suite's tiny random-weight models as a local Hugging Face Hub, offline.

    python scripts/demo_hub.py [--port 8765]

Builds the tiny repos of ``tests.hubrepos`` (a few seconds), serves the ones a
demo needs with the test suite's Hub stand-in (``tests.servers.hub``) on
127.0.0.1:PORT and prints the ``export`` lines that point ivrimeet at them.
Ctrl-C (or SIGTERM) stops it and removes the built repos.

Only ivrimeet-test ids are served (plus ``pyannote/speaker-diarization-community-1``,
whose PLDA pyannote.audio 4 loads for every pipeline), never the published
pipeline or encoder ids: a bucket filled from this demo cannot pin
``pyannote/speaker-diarization-3.1`` to random weights. The models cannot tell
voices apart; they exercise every step of the product, not its accuracy.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout, for ``tests``

from tests.servers.hub import TEST_TOKEN, StandInHub, run_hub

DEFAULT_PORT = 8765


def serve_demo_repos(hub: StandInHub, workdir: Path) -> list[str]:
    """Build and publish the demo's repos on ``hub``; return the shell lines pointing at them."""
    # Imported here, once the port is ours: tests.hubrepos imports torch, pyannote and
    # SpeechBrain (seconds), which a port already in use should not cost.
    from tests.hubrepos import (
        PIPELINE_CLOSURES,
        PIPELINE_SPEECHBRAIN,
        SPEECHBRAIN_ECAPA,
        build_repos,
        publish_repos,
    )

    folders = build_repos(workdir)
    served = PIPELINE_CLOSURES[PIPELINE_SPEECHBRAIN] | {SPEECHBRAIN_ECAPA}
    publish_repos(hub, {repo: folders[repo] for repo in sorted(served)})
    print(f"serving {', '.join(sorted(served))}", file=sys.stderr)
    values = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_TOKEN": TEST_TOKEN,  # the stand-in's token for its gated repos; worthless elsewhere
        "DIARIZATION_PIPELINE": PIPELINE_SPEECHBRAIN,
        "EMBEDDING_MODEL": SPEECHBRAIN_ECAPA,
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (0: any free one)"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    with tempfile.TemporaryDirectory(prefix="ivrimeet-demo-hub-") as workdir, ExitStack() as stack:
        try:
            hub = stack.enter_context(run_hub(Path(workdir) / "hub", port=args.port))
        except OSError as exc:
            print(f"cannot listen on 127.0.0.1:{args.port} ({exc}): try --port", file=sys.stderr)
            return 1
        print("building the tiny repos ...", file=sys.stderr, flush=True)
        exports = serve_demo_repos(hub, Path(workdir) / "repos")
        print(f"on {hub.endpoint}; Ctrl-C stops it. In your shell:", file=sys.stderr, flush=True)
        print("\n".join(exports), flush=True)
        stop.wait()
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
