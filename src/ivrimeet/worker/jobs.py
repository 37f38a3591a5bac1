"""One processing job: claim the meeting, run the pipeline, record the outcome.

::

    claim (queued → processing, new run row)        none to claim → skip (duplicate delivery)
      ├─ ClaimHeartbeat renews the claim while the job runs (see ``worker.claims``)
      └─ process_recording(store, run, fence, ...)   decode, diarize, snippets, voiceprints, results
           ├─ ok         → record_results (→ done): one conditional UPDATE makes this run's
           │               objects current, then the objects of every other run are removed
           ├─ superseded → (the fence: reprocessed, deleted or claim expired) stop, remove
           │               this run's objects (the whole meeting's if it was deleted)
           ├─ transient  → mark_retrying (→ queued), re-raise: Huey retries after a delay;
           │               the last attempt → failed
           └─ other      → failed
    Any run that does not end ``done`` removes what it wrote. The meeting's
    ``error`` is a plain reason for the user (``worker.reasons``); the full
    error goes to the log as one ``job.error`` line (a traceback only for an
    unexpected exception: a bug).

Fenced: each run writes under keys of its own (``processing.run_keys``:
``snippets/<meeting>/<run>/…``, ``results/<meeting>/<run>/…``), and the fence
asks the database before every write whether the run still owns the meeting,
so a superseded run stops at its next write instead of racing the new one.
A duplicate delivery finds nothing to claim; a re-run leaves exactly one set
of results.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ivrimeet import db
from ivrimeet.errors import (
    IvrimeetError,
    LeaseTimeoutError,
    RunSupersededError,
    UnavailableError,
)
from ivrimeet.metrics import JOB_SECONDS, count_s3_error
from ivrimeet.objects import ObjectStore
from ivrimeet.processing.job import ProcessingResult, process_recording
from ivrimeet.processing.models import LoadedModels, ModelHolder
from ivrimeet.processing.progress import JobProgress
from ivrimeet.processing.run_keys import meeting_output_prefixes, remove_other_runs, remove_run
from ivrimeet.processing.voiceprints import DEFAULT_MATCH_THRESHOLD, NamedVoiceprint
from ivrimeet.worker.claims import DEFAULT_CLAIM_TTL_SECONDS, ClaimHeartbeat, Clock, utc_clock
from ivrimeet.worker.reasons import log_fields, unexpected_reason, user_reason

__all__ = ["TRANSIENT_ERRORS", "JobContext", "run_job"]

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[IvrimeetError], ...] = (UnavailableError, LeaseTimeoutError)
"""Worth retrying: a dependency did not answer, or another process held a model lease."""


@dataclass
class JobContext:
    """What every job of one worker process shares."""

    database: db.Database
    store: ObjectStore
    models: ModelHolder
    snippet_seconds: float
    worker_name: str
    match_threshold: float = DEFAULT_MATCH_THRESHOLD
    max_recording_seconds: float | None = None
    claim_ttl_seconds: float = DEFAULT_CLAIM_TTL_SECONDS
    clock: Clock = utc_clock


def run_job(ctx: JobContext, meeting_id: str, *, retries_left: int) -> None:
    """Process ``meeting_id`` once; raises only to ask the queue for a retry."""
    claim = db.claim_for_processing(
        ctx.database, meeting_id, worker=ctx.worker_name, now=ctx.clock()
    )
    if claim is None:
        logger.info("job.skipped meeting=%s reason=not_queued", meeting_id)
        return
    started = time.monotonic()
    logger.info(
        "job.started meeting=%s run=%d worker=%s", meeting_id, claim.run_id, ctx.worker_name
    )
    with ClaimHeartbeat(ctx.database, claim, ttl=ctx.claim_ttl_seconds, clock=ctx.clock):
        _run_claimed(ctx, claim, started, retries_left=retries_left)


def _run_claimed(ctx: JobContext, claim: db.Claim, started: float, *, retries_left: int) -> None:
    meeting_id = claim.meeting_id
    loading_models = True
    try:
        models = ctx.models.get()
        loading_models = False
        outcome = _process(ctx, claim, models)
    except RunSupersededError:
        _abandon(ctx, claim)
        _finished(meeting_id, "superseded", started)
    except IvrimeetError as exc:
        count_s3_error(exc)
        logger.warning(
            "job.error meeting=%s run=%d models=%s %s",
            meeting_id,
            claim.run_id,
            loading_models,
            log_fields(exc),
        )
        reason = user_reason(exc, meeting_id=meeting_id, loading_models=loading_models)
        if isinstance(exc, TRANSIENT_ERRORS) and retries_left > 0:
            if not db.mark_retrying(ctx.database, claim, reason):
                _abandon(ctx, claim)
            else:
                _remove_own(ctx, claim)
            _finished(meeting_id, "retry", started, reason=exc.code)
            raise
        _fail(ctx, claim, reason, started)
    except Exception as exc:  # where we give up: the meeting must say why
        logger.error("job.crashed meeting=%s run=%d", meeting_id, claim.run_id, exc_info=exc)
        _fail(ctx, claim, unexpected_reason(exc, meeting_id=meeting_id), started)
    else:
        _record(ctx, claim, outcome, started)


def _finished(meeting_id: str, outcome: str, started: float, **extra: object) -> None:
    seconds = time.monotonic() - started
    JOB_SECONDS.labels(outcome=outcome).observe(seconds)
    fields = "".join(f" {k}={v}" for k, v in extra.items())
    logger.info("job.%s meeting=%s seconds=%.3f%s", outcome, meeting_id, seconds, fields)


def _fail(ctx: JobContext, claim: db.Claim, reason: str, started: float) -> None:
    fresh = db.mark_failed(ctx.database, claim, reason)
    if fresh:
        # The meeting keeps the results of its last good run, if any; ours are not needed.
        _remove_own(ctx, claim)
    else:
        _abandon(ctx, claim)
    _finished(claim.meeting_id, "failed" if fresh else "stale", started)


def _fence(ctx: JobContext, claim: db.Claim) -> None:
    """Raise ``RunSupersededError`` once this run no longer owns its meeting."""
    if not db.run_is_current(ctx.database, claim):
        raise RunSupersededError(
            f"Run {claim.run_id} of meeting {claim.meeting_id} was superseded "
            "(reprocessed, deleted, or its claim expired); it stops and removes its objects."
        )


def _abandon(ctx: JobContext, claim: db.Claim) -> None:
    """A run that lost its meeting removes what it wrote: the whole meeting's output
    if the meeting was deleted (uploads that landed after the delete), else its own."""
    if db.meeting_exists(ctx.database, claim.meeting_id):
        _remove_own(ctx, claim)
        return
    for prefix in meeting_output_prefixes(claim.meeting_id):
        _cleanup(claim, partial(ctx.store.delete_prefix, prefix))


def _remove_own(ctx: JobContext, claim: db.Claim) -> None:
    _cleanup(claim, partial(remove_run, ctx.store, claim.meeting_id, str(claim.run_id)))


def _cleanup(claim: db.Claim, remove: Callable[[], int]) -> None:
    """Best effort: objects a failed removal leaves are removed by the meeting's next
    good run (``remove_other_runs``) or by deleting the meeting."""
    try:
        remove()
    except IvrimeetError as exc:
        logger.warning(
            "job.cleanup_failed meeting=%s run=%d %s",
            claim.meeting_id,
            claim.run_id,
            log_fields(exc),
        )


def _process(ctx: JobContext, claim: db.Claim, models: LoadedModels) -> ProcessingResult:
    known = [
        NamedVoiceprint(name=v.name, embedding=v.embedding, voiceprint_id=v.id)
        for v in db.known_voiceprints(ctx.database)
    ]
    return process_recording(
        ctx.store,
        meeting_id=claim.meeting_id,
        run=str(claim.run_id),
        fence=partial(_fence, ctx, claim),
        recording_key=claim.audio_key,
        pipeline=models.pipeline,
        encoder=models.encoder,
        snippet_seconds=ctx.snippet_seconds,
        known_voiceprints=known,
        match_threshold=ctx.match_threshold,
        max_recording_seconds=ctx.max_recording_seconds,
        # Shown by the API and the web page; a write at most every 2 s.
        progress=JobProgress(partial(db.report_progress, ctx.database, claim), min_interval=2.0),
    )


def _record(ctx: JobContext, claim: db.Claim, result: ProcessingResult, started: float) -> None:
    fresh = db.record_results(
        ctx.database,
        claim,
        duration_seconds=result.duration_seconds,
        speakers=[
            db.NewSpeaker(
                label=s.label,
                seconds=s.seconds,
                snippet_key=s.snippet_key,
                embedding=s.embedding or None,
                suggested_voiceprint_id=s.suggested_voiceprint_id,
            )
            for s in result.speakers
        ],
        segments=[db.NewSegment(g.start, g.end, g.speaker_label) for g in result.segments],
        rttm_key=result.rttm_key,
        json_key=result.json_key,
        warning="\n".join(result.warnings) or None,
    )
    if fresh:
        _cleanup(claim, partial(remove_other_runs, ctx.store, claim.meeting_id, str(claim.run_id)))
        _finished(
            claim.meeting_id,
            "done",
            started,
            speakers=len(result.speakers),
            storage_share=f"{result.timings.storage_share:.3f}",
        )
        return
    _abandon(ctx, claim)
    _finished(claim.meeting_id, "stale", started)
