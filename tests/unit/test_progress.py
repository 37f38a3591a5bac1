"""``JobProgress`` turns job steps and pyannote's hook calls into one percentage."""

from __future__ import annotations

from ivrimeet.processing.progress import STEPS, JobProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _pyannote_calls(hook: object, clock: _Clock) -> None:
    """The hook calls pyannote.audio 4.0.7's ``SpeakerDiarization.apply`` makes, in order."""
    assert callable(hook)
    for done in range(5):
        hook("segmentation", None, total=4, completed=min(done, 4))
        clock.now += 1.0
    hook("segmentation", "segmentations")
    hook("speaker_counting", "count")
    for done in range(11):
        hook("embeddings", None, total=10, completed=done)
        clock.now += 2.0
    hook("embeddings", "embeddings")
    clock.now += 0.5
    hook("discrete_diarization", "diarization")


def test_reports_rise_through_every_step_to_100() -> None:
    clock = _Clock()
    reports: list[tuple[str, int]] = []
    progress = JobProgress(lambda step, percent: reports.append((step, percent)), clock=clock)

    progress.enter("decode")
    clock.now += 1.0
    progress.enter("diarize")
    _pyannote_calls(progress.diarization_hook(), clock)
    for step in ("snippets", "voiceprints", "results"):
        progress.enter(step)
    progress.done()

    percents = [percent for _, percent in reports]
    assert percents == sorted(percents)
    assert reports[0] == ("decode", 0)
    assert reports[-1] == ("done", 100)
    steps = [step for step, _ in reports]
    for step in STEPS:
        assert step in steps
    # Halfway through the embedding batches is halfway through the embeddings' share.
    start, end = STEPS["embeddings"]
    assert ("embeddings", int(start + (end - start) / 2)) in reports


def test_times_pyannotes_internal_steps() -> None:
    clock = _Clock()
    progress = JobProgress(clock=clock)

    progress.enter("diarize")
    _pyannote_calls(progress.diarization_hook(), clock)
    progress.enter("snippets")

    assert progress.diarization_seconds == {
        "segmentation": 5.0,
        "embeddings": 22.0,
        "clustering": 0.5,
    }


def test_reports_at_most_once_per_interval_within_a_step() -> None:
    clock = _Clock()
    reports: list[int] = []
    progress = JobProgress(
        lambda _, percent: reports.append(percent), min_interval=5.0, clock=clock
    )
    progress.enter("diarize")
    progress.enter("embeddings")
    hook = progress.diarization_hook()

    for done in range(100):
        hook("embeddings", None, total=100, completed=done)
        clock.now += 0.1  # 9.9 s in all: one report 5 s in, then none

    assert reports[:2] == [1, 10]
    assert len(reports) == 3
    assert 49 <= reports[2] <= 52  # half the embeddings' share, 10-90
    assert progress.percent == int(10 + 80 * 99 / 100)
