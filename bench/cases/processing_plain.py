"""Plain pyannote.audio on one file, the code a user writes; the processing cases time it.

    python bench/cases/processing_plain.py RECORDING OUT.json

``Pipeline.from_pretrained("pyannote/speaker-diarization-3.1", token=...)`` then
``pipeline(RECORDING)`` (pyannote decodes the file itself, with torchcodec).
Writes to OUT.json: load and diarization seconds, pyannote's own steps timed
through its hook, and the RTTM. The Hub is ``$HF_ENDPOINT`` (the bench's
stand-in), the token ``$HF_TOKEN``. Registers no case when imported.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

PIPELINE = "pyannote/speaker-diarization-3.1"


def main(recording: str, out: str) -> None:
    started = time.monotonic()
    from pyannote.audio import Pipeline

    pipeline = Pipeline.from_pretrained(PIPELINE, token=os.environ["HF_TOKEN"])
    loaded = time.monotonic()
    marks: list[tuple[str, float]] = []

    def hook(step: str, artefact: Any, file: Any = None, **progress: Any) -> None:
        if not progress:  # a step's final result: the step ends now
            marks.append((step, time.monotonic()))

    output = pipeline(recording, hook=hook)
    done = time.monotonic()
    steps: dict[str, float] = {}
    previous = loaded
    for step, at in marks:
        name = {"speaker_counting": "segmentation", "discrete_diarization": "clustering"}.get(
            step, step
        )
        steps[name] = steps.get(name, 0.0) + at - previous
        previous = at
    document = {
        "load_seconds": round(loaded - started, 3),
        "diarize_seconds": round(done - loaded, 3),
        "steps": {name: round(seconds, 3) for name, seconds in steps.items()},
        "rttm": output.speaker_diarization.to_rttm(),
    }
    with open(out, "w") as handle:
        json.dump(document, handle)


if __name__ == "__main__":
    main(*sys.argv[1:3])
