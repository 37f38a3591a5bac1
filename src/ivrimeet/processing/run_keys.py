"""Where a processing run writes, and removing what a run that lost its meeting wrote.

Every run writes under keys of its own, so two runs of one meeting (a
reprocess while the first still works, a claim that expired under a slow
worker) never overwrite or delete each other's objects::

    snippets/<meeting>/<run>/<label>.<ext>
    results/<meeting>/<run>/diarization.json
    results/<meeting>/<run>/diarization.rttm

A run's objects become current in one conditional database update (the
meeting's row points at them only if that run still owns the meeting). Then
the winner removes every other run's objects (``remove_other_runs``); a run
that lost removes its own (``remove_run``). A run that loses *and* dies
before cleaning up leaves objects that the next winning run (or deleting the
meeting) removes, since both clear the whole meeting prefix but the current
run.
"""

from __future__ import annotations

import logging

from ivrimeet.objects import ObjectStore

__all__ = [
    "meeting_output_prefixes",
    "remove_other_runs",
    "remove_run",
    "results_json_key",
    "results_rttm_key",
    "run_prefixes",
    "snippet_prefix",
]

logger = logging.getLogger(__name__)


def snippet_prefix(meeting_id: str, run: str) -> str:
    """Where one run's snippets live: ``snippets/<meeting>/<run>/``."""
    return f"snippets/{meeting_id}/{run}/"


def results_json_key(meeting_id: str, run: str) -> str:
    """``results/<meeting>/<run>/diarization.json``."""
    return f"results/{meeting_id}/{run}/diarization.json"


def results_rttm_key(meeting_id: str, run: str) -> str:
    """``results/<meeting>/<run>/diarization.rttm``."""
    return f"results/{meeting_id}/{run}/diarization.rttm"


def meeting_output_prefixes(meeting_id: str) -> tuple[str, str]:
    """Every prefix under which any run of the meeting writes."""
    return f"snippets/{meeting_id}/", f"results/{meeting_id}/"


def run_prefixes(meeting_id: str, run: str) -> tuple[str, str]:
    """Every prefix under which one run writes."""
    return snippet_prefix(meeting_id, run), f"results/{meeting_id}/{run}/"


def remove_run(store: ObjectStore, meeting_id: str, run: str) -> int:
    """Delete whatever ``run`` wrote; returns how many objects went."""
    removed = sum(store.delete_prefix(prefix) for prefix in run_prefixes(meeting_id, run))
    if removed:
        logger.info("run.objects_removed meeting=%s run=%s count=%d", meeting_id, run, removed)
    return removed


def remove_other_runs(store: ObjectStore, meeting_id: str, keep: str) -> int:
    """Delete every output object of the meeting not written by run ``keep``."""
    kept = run_prefixes(meeting_id, keep)
    stale = [
        info.key
        for prefix in meeting_output_prefixes(meeting_id)
        for info in store.list(prefix)
        if not info.key.startswith(kept)
    ]
    for key in stale:
        store.delete(key)
    if stale:
        logger.info(
            "run.superseded_removed meeting=%s kept_run=%s count=%d", meeting_id, keep, len(stale)
        )
    return len(stale)
