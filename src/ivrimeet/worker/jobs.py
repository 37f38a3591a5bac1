"""One processing job: claim the meeting, run the pipeline, record the outcome.

::

    claim (queued → processing, new run row)        none to claim → skip (duplicate delivery)
      ├─ ClaimHeartbeat renews the claim while the job runs (see ``worker.claims``)
      └─ process_recording(store, ...)               decode, diarize, snippets, voiceprints, results
           ├─ ok         → record_results (→ done)   stale claim → clean up if the meeting is gone
           ├─ transient  → mark_retrying (→ queued), re-raise: Huey retries after a delay;
           │               the last attempt → failed
           └─ other      → failed
    The meeting's ``error`` is a plain reason for the user (``worker.reasons``);
    the full error goes to the log as one ``job.error`` line (a traceback only
    for an unexpected exception: a bug).

Idempotent: a re-run writes the same keys (``snippets/<meeting>/<label>.<ext>``,
``results/<meeting>/diarization.*``) and replaces the meeting's rows in one
transaction; snippets the new run no longer produces are deleted afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ivrimeet import db
from ivrimeet.errors import IvrimeetError, LeaseTimeoutError, UnavailableError
from ivrimeet.metrics import JOB_SECONDS, count_s3_error
from ivrimeet.objects import ObjectStore
from ivrimeet.processing.job import ProcessingResult, process_recording
from ivrimeet.processing.models import LoadedModels, ModelHolder
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
            db.mark_retrying(ctx.database, claim, reason)
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
    _finished(claim.meeting_id, "failed" if fresh else "stale", started)


def _process(ctx: JobContext, claim: db.Claim, models: LoadedModels) -> ProcessingResult:
    known = [
        NamedVoiceprint(name=v.name, embedding=v.embedding, voiceprint_id=v.id)
        for v in db.known_voiceprints(ctx.database)
    ]
    return process_recording(
        ctx.store,
        meeting_id=claim.meeting_id,
        recording_key=claim.audio_key,
        pipeline=models.pipeline,
        encoder=models.encoder,
        snippet_seconds=ctx.snippet_seconds,
        known_voiceprints=known,
        match_threshold=ctx.match_threshold,
        max_recording_seconds=ctx.max_recording_seconds,
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
    )
    if fresh:
        _finished(
            claim.meeting_id,
            "done",
            started,
            speakers=len(result.speakers),
            storage_share=f"{result.timings.storage_share:.3f}",
        )
        return
    if not db.meeting_exists(ctx.database, claim.meeting_id):
        # Deleted while we worked: what we uploaded after its objects were removed must go too.
        for prefix in (f"snippets/{claim.meeting_id}/", f"results/{claim.meeting_id}/"):
            ctx.store.delete_prefix(prefix)
    _finished(claim.meeting_id, "stale", started)
