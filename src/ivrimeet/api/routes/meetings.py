"""``/api/meetings``: upload, list, read, play, rename speakers, reprocess, delete.

Blocking work (database, object store, queue) runs in sync routes, which
FastAPI runs in its thread pool, or through ``run_in_threadpool`` in the two
async routes that must read the request stream themselves (upload, rename).
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from ivrimeet import db
from ivrimeet.api.deps import DatabaseDep, MeetingId, QueueDep, SpeakerId, StateDep, StoreDep
from ivrimeet.api.media_links import MediaLinks
from ivrimeet.api.schemas import (
    MeetingListItemOut,
    MeetingOut,
    MeetingPageOut,
    MeetingSummaryOut,
    ProgressOut,
    RenameSpeakerIn,
    SegmentOut,
    SpeakerOut,
)
from ivrimeet.api.state import ApiState
from ivrimeet.errors import (
    ConflictError,
    DatabaseUnavailableError,
    InvalidInputError,
    IvrimeetError,
    MeetingNotFoundError,
    SizeLimitError,
)
from ivrimeet.media.upload import MAX_TITLE_CHARS, store_upload
from ivrimeet.metrics import UPLOAD_BYTES, UPLOADS

__all__ = ["meeting_prefixes", "recording_key", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/meetings", tags=["meetings"])

MAX_JSON_BODY_BYTES = 4096
MAX_OFFSET = 2**31 - 1
"""Largest ``offset`` accepted (422 beyond): far past any real list, inside every database's
integer (a 64-bit overflow was a 500)."""


def recording_key(meeting_id: str, extension: str) -> str:
    return f"audio/{meeting_id}/original.{extension}"


def meeting_prefixes(meeting_id: str) -> tuple[str, ...]:
    """Every prefix under which a meeting's objects live."""
    return (f"audio/{meeting_id}/", f"snippets/{meeting_id}/", f"results/{meeting_id}/")


def _summary(record: db.MeetingRecord) -> MeetingSummaryOut:
    return MeetingSummaryOut(
        id=record.id,
        title=record.title,
        status=record.status,
        error=record.error,
        warning=record.warning,
        duration_seconds=record.duration_seconds,
        created_at=record.created_at,
        progress=(
            ProgressOut(step=record.progress_step, percent=record.progress_percent)
            if record.status == db.MeetingStatus.PROCESSING
            and record.progress_step is not None
            and record.progress_percent is not None
            else None
        ),
    )


def _speaker(meeting_id: str, speaker: db.SpeakerRecord, links: MediaLinks) -> SpeakerOut:
    return SpeakerOut(
        id=speaker.id,
        label=speaker.label,
        name=speaker.name,
        suggested_name=speaker.suggested_name,
        seconds=speaker.seconds,
        snippet_url=links.snippet(meeting_id, speaker.id) if speaker.snippet_key else None,
    )


def _meeting(record: db.MeetingRecord, links: MediaLinks) -> MeetingOut:
    return MeetingOut(
        **_summary(record).model_dump(),
        speakers=[_speaker(record.id, s, links) for s in record.speakers],
        segments=[
            SegmentOut(start=g.start, end=g.end, speaker_id=g.speaker_id) for g in record.segments
        ],
    )


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInputError("The Content-Length header is not a number.") from None


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "audio/*": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
                    },
                }
            },
        },
    }
}


@router.post(
    "",
    status_code=201,
    response_model=MeetingOut,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a recording (raw audio/* body or multipart field 'file')",
)
async def upload_meeting(
    request: Request,
    state: StateDep,
    title: Annotated[str | None, Query(max_length=MAX_TITLE_CHARS)] = None,
) -> Response:
    """Stream the recording into the object store, create the meeting, enqueue its job."""
    services = state.services
    meeting_id = uuid.uuid4().hex
    try:
        # The bound on upload memory: a slot is taken before a byte of the body is read.
        with state.upload_slots.hold():
            stored = await store_upload(
                request.stream(),
                content_type=request.headers.get("content-type"),
                content_length=_content_length(request),
                store=services.store,
                key_for=lambda extension: recording_key(meeting_id, extension),
                max_bytes=state.max_upload_bytes,
                title=title,
            )
    except ClientDisconnect:
        UPLOADS.labels(outcome="disconnected").inc()
        logger.info("upload.disconnected meeting=%s", meeting_id)
        return Response(status_code=400)  # nobody is left to read it
    except IvrimeetError as exc:
        UPLOADS.labels(outcome=_upload_outcome(exc)).inc()
        raise
    try:
        record = await run_in_threadpool(
            db.create_meeting,
            services.database,
            meeting_id=meeting_id,
            title=stored.title,
            audio_key=stored.key,
            audio_bytes=stored.size,
            content_type=stored.content_type,
        )
        await run_in_threadpool(services.queue.enqueue_processing, meeting_id)
    except BaseException:
        # No half-created meeting: without its job nobody would ever process it.
        await run_in_threadpool(_forget, state, meeting_id)
        UPLOADS.labels(outcome="error").inc()
        raise
    UPLOADS.labels(outcome="stored").inc()
    UPLOAD_BYTES.inc(stored.size)
    logger.info("meeting.created meeting=%s bytes=%d", meeting_id, stored.size)
    body = _meeting(record, state.links)
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/meetings/{meeting_id}"},
    )


def _upload_outcome(exc: IvrimeetError) -> str:
    return {413: "too_large", 415: "unsupported_media", 422: "invalid"}.get(
        exc.http_status, "error"
    )


def _forget(state: ApiState, meeting_id: str) -> None:
    services = state.services
    for prefix in meeting_prefixes(meeting_id):
        services.store.delete_prefix(prefix)
    try:
        db.delete_meeting(services.database, meeting_id)
    except (MeetingNotFoundError, DatabaseUnavailableError) as exc:
        logger.info("upload.forget meeting=%s row=%s", meeting_id, exc.code)


@router.get("", response_model=MeetingPageOut, summary="List meetings, newest first")
def list_meetings(
    database: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> MeetingPageOut:
    page = db.list_meetings(database, limit=limit, offset=offset)
    counts = db.count_speakers(database, [m.id for m in page.items])
    return MeetingPageOut(
        items=[
            MeetingListItemOut(**_summary(m).model_dump(), speaker_count=counts[m.id])
            for m in page.items
        ],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/{meeting_id}", response_model=MeetingOut, summary="One meeting")
def get_meeting(meeting_id: MeetingId, state: StateDep) -> MeetingOut:
    record = db.get_meeting(state.services.database, meeting_id)
    return _meeting(record, state.links)


def _media_link_response(request: Request, url: str, expires_in: int) -> Response:
    """Redirect to a short-lived media link, or answer ``{"url", "expires_in"}`` as JSON.

    An ``<audio>`` element cannot send the bearer token and a page cannot read a
    redirect's ``Location``, so the web page asks with ``Accept: application/json``
    and plays the link it gets.
    """
    headers = {"Cache-Control": "no-store"}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"url": url, "expires_in": expires_in}, headers=headers)
    return RedirectResponse(url, status_code=302, headers=headers)


@router.get(
    "/{meeting_id}/audio",
    status_code=302,
    response_class=RedirectResponse,
    summary="Redirect to a short-lived link of the original recording ({url} JSON on request)",
)
def get_audio(meeting_id: MeetingId, request: Request, state: StateDep) -> Response:
    db.get_meeting(state.services.database, meeting_id)  # 404 for an unknown meeting
    links = state.links
    return _media_link_response(request, links.recording(meeting_id), links.expires_seconds)


@router.get(
    "/{meeting_id}/speakers/{speaker_id}/snippet",
    status_code=302,
    response_class=RedirectResponse,
    summary="Redirect to a short-lived link of the speaker's snippet ({url} JSON on request)",
)
def get_snippet(
    meeting_id: MeetingId, speaker_id: SpeakerId, request: Request, state: StateDep
) -> Response:
    db.snippet_key(state.services.database, meeting_id, speaker_id)  # 404 without a snippet
    links = state.links
    return _media_link_response(
        request, links.snippet(meeting_id, speaker_id), links.expires_seconds
    )


@router.get(
    "/{meeting_id}/rttm",
    response_class=PlainTextResponse,
    summary="The diarization as RTTM",
)
def get_rttm(meeting_id: MeetingId, database: DatabaseDep, store: StoreDep) -> PlainTextResponse:
    record = db.get_meeting(database, meeting_id)
    if record.rttm_key is None:
        raise ConflictError(
            f"Meeting {meeting_id} has no diarization yet (status {record.status}).",
            hints=["wait until its status is 'done'"],
        )
    return PlainTextResponse(store.get_bytes(record.rttm_key).decode("utf-8"))


async def _small_json(request: Request) -> bytes:
    """The request body, refused with 413 beyond ``MAX_JSON_BODY_BYTES``."""
    declared = _content_length(request)
    too_large = SizeLimitError(
        f"The JSON body is larger than {MAX_JSON_BODY_BYTES} bytes.",
        hints=['send only {"name": "..."}'],
    )
    if declared is not None and declared > MAX_JSON_BODY_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY_BYTES:
            raise too_large
    return bytes(body)


_RENAME_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": RenameSpeakerIn.model_json_schema()}},
    }
}


@router.patch(
    "/{meeting_id}/speakers/{speaker_id}",
    response_model=SpeakerOut,
    openapi_extra=_RENAME_BODY,
    summary="Name a speaker; enrolls its voiceprint for later meetings",
)
async def rename_speaker(
    request: Request, meeting_id: MeetingId, speaker_id: SpeakerId, state: StateDep
) -> SpeakerOut:
    try:
        change = RenameSpeakerIn.model_validate_json(await _small_json(request))
    except ValidationError as exc:
        raise InvalidInputError(
            'The body must be JSON like {"name": "Dana"}.',
            details=[f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()],
        ) from None
    name = change.name.strip() if change.name is not None else None
    speaker = await run_in_threadpool(
        db.rename_speaker, state.services.database, meeting_id, speaker_id, name or None
    )
    return _speaker(meeting_id, speaker, state.links)


@router.post(
    "/{meeting_id}/reprocess",
    status_code=202,
    response_model=MeetingOut,
    summary="Process the recording again (same keys overwritten)",
)
def reprocess_meeting(meeting_id: MeetingId, state: StateDep, queue: QueueDep) -> MeetingOut:
    record = db.request_reprocess(state.services.database, meeting_id)
    queue.enqueue_processing(meeting_id)
    logger.info("meeting.reprocess meeting=%s", meeting_id)
    return _meeting(record, state.links)


@router.delete(
    "/{meeting_id}",
    status_code=204,
    response_class=Response,
    summary="Delete the meeting: every object and every row",
)
def delete_meeting(meeting_id: MeetingId, database: DatabaseDep, store: StoreDep) -> Response:
    # Objects first, rows last: if deleting objects fails, the meeting is still
    # there to retry. Detaching runs first stops a running job from recording
    # results (it cleans up its own uploads instead).
    db.detach_runs(database, meeting_id)
    removed = sum(store.delete_prefix(prefix) for prefix in meeting_prefixes(meeting_id))
    db.delete_meeting(database, meeting_id)
    logger.info("meeting.deleted meeting=%s objects=%d", meeting_id, removed)
    return Response(status_code=204)
