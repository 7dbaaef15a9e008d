"""Recordings JSON API and the file routes (play with HTTP range requests, download).

Parsing and output only: what may be seen, changed and opened, and what is audited, is
``recordings.actions`` (the recordings pages call the same functions).
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from recordings import actions, keys
from server.api.registry import ApiRouter
from server.live import RECORDINGS
from server.models.recordings import Recording, SegmentStatus
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX, SETTINGS
from server.web.params import path_id

api = ApiRouter("recordings")


class SegmentOut(BaseModel):
    id: int
    participant: str
    identity: str
    room: str
    label: str
    kind: str
    width: int
    height: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str
    duration_ms: int | None
    frames: int | None
    size: int | None
    sha256: str | None
    note: str


class RecordingOut(BaseModel):
    session_id: int
    case_id: int
    active: bool
    alarm: str | None
    sealed_at: datetime | None
    manifest_sha256: str | None
    interrupted: bool
    legal_hold: bool
    hold_reason: str
    composite_status: str
    composite_progress: float
    composite_error: str
    composite_duration_ms: int | None
    segments: list[SegmentOut]


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: str = Field(default="", max_length=255)


class CaseRecordingOut(BaseModel):
    session_id: int
    session_kind: str
    opened_at: datetime | None
    ended_at: datetime | None
    segments: int
    participants: list[str]
    duration_ms: int
    sealed: bool
    interrupted: bool
    composite_status: str
    page: str


class KeyOut(BaseModel):
    algorithm: str
    fingerprint: str
    public_key_pem: str


def recording_out(rec: Recording) -> dict[str, object]:
    segments = [
        SegmentOut.model_validate(s, from_attributes=True)
        for s in rec.segments
        if s.status != SegmentStatus.PURGED
    ]
    out = RecordingOut(
        session_id=rec.session_id,
        case_id=rec.case_id,
        active=rec.active,
        alarm=rec.alarm,
        sealed_at=rec.sealed_at,
        manifest_sha256=rec.manifest_sha256,
        interrupted=rec.interrupted,
        legal_hold=rec.legal_hold,
        hold_reason=rec.hold_reason,
        composite_status=rec.composite_status,
        composite_progress=rec.composite_progress,
        composite_error=rec.composite_error,
        composite_duration_ms=rec.composite_duration_ms,
        segments=segments,
    )
    return out.model_dump(mode="json")


def case_recording_out(rec: Recording) -> dict[str, object]:
    segs = [s for s in rec.segments if s.status != SegmentStatus.PURGED]
    ends = [s.started_at.timestamp() * 1000 + (s.duration_ms or 0) for s in segs]
    starts = [s.started_at.timestamp() * 1000 for s in segs]
    return CaseRecordingOut(
        session_id=rec.session_id,
        session_kind=rec.session.kind,
        opened_at=rec.session.opened_at,
        ended_at=rec.session.ended_at,
        segments=len(segs),
        participants=sorted({s.participant for s in segs}),
        duration_ms=round(max(ends) - min(starts)) if segs else 0,
        sealed=rec.sealed_at is not None,
        interrupted=rec.interrupted,
        composite_status=rec.composite_status,
        page=f"/recordings/sessions/{rec.session_id}",
    ).model_dump(mode="json")


def session_id_of(request: web.Request) -> int:
    """The route's session id (a malformed one is a session that does not exist)."""
    return path_id(request, "session_id")


@api.route(
    "GET",
    "/sessions/{session_id}/recording",
    name="api_recording",
    summary="A session's recording: segments, seal, composite progress",
    response=RecordingOut,
    errors=(401, 403, 404),
)
async def get_recording(request: web.Request) -> web.Response:
    require_user(request)
    rec = await actions.viewable_recording(request[CTX], session_id_of(request))
    return json_ok(recording_out(rec))


@api.route(
    "POST",
    "/sessions/{session_id}/recording",
    name="api_recording_active",
    summary="Start or stop recording (the session's host)",
    body=ActiveIn,
    response=RecordingOut,
    errors=(401, 403, 404, 409, 422),
)
async def set_active(request: web.Request) -> web.Response:
    require_user(request)
    body = await read_json(request, ActiveIn)
    rec = await actions.host_set_active(
        request[CTX], request.app[RECORDINGS], session_id_of(request), body.active
    )
    return json_ok(recording_out(rec))


@api.route(
    "POST",
    "/sessions/{session_id}/recording/composite",
    name="api_recording_composite_retry",
    summary="Queue the composite playback file again (after a failure)",
    response=RecordingOut,
    status=202,
    errors=(401, 403, 404, 409),
)
async def retry_composite(request: web.Request) -> web.Response:
    require_user(request)
    rec = await actions.queue_composite(request[CTX], session_id_of(request))
    return json_ok(recording_out(rec), 202)


@api.route(
    "POST",
    "/sessions/{session_id}/recording/hold",
    name="api_recording_hold",
    summary="Set or lift a legal hold (blocks deletion)",
    body=HoldIn,
    response=RecordingOut,
    errors=(401, 403, 404, 422),
)
async def set_hold(request: web.Request) -> web.Response:
    require_user(request)
    body = await read_json(request, HoldIn)
    rec = await actions.apply_hold(request[CTX], session_id_of(request), body.hold, body.reason)
    return json_ok(recording_out(rec))


@api.route(
    "GET",
    "/cases/{case_id}/recordings",
    name="api_case_recordings",
    summary="The recordings of a case's sessions",
    response=CaseRecordingOut,
    response_list=True,
    errors=(401, 403, 404),
)
async def case_recordings(request: web.Request) -> web.Response:
    require_user(request)
    case_id = path_id(request, "case_id")
    recs = await actions.case_recordings(request[CTX], case_id)
    return json_ok([case_recording_out(rec) for rec in recs])


@api.route(
    "GET",
    "/recordings/key",
    name="api_recordings_key",
    summary="The public key that signs recording manifests",
    response=KeyOut,
    public=True,
)
async def public_key(request: web.Request) -> web.Response:
    key = keys.published(request.app[SETTINGS].data_dir)
    out = KeyOut(algorithm="Ed25519", fingerprint=key.fingerprint, public_key_pem=key.pem)
    return json_ok(out.model_dump())


# --- files ---------------------------------------------------------------------------


async def _serve(
    request: web.Request, file: actions.RecordingFile, *, download: bool
) -> web.StreamResponse:
    await actions.file_opened(
        request[CTX], file, download=download, range_header=request.headers.get("Range", "")
    )
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Type": "video/webm",
        "Content-Disposition": f'{disposition}; filename="{file.filename}"',
        "Cache-Control": "private, no-store",
    }
    return web.FileResponse(file.path, headers=headers)


async def segment_file(request: web.Request, *, download: bool) -> web.StreamResponse:
    require_user(request)
    seg_id = path_id(request, "segment_id", code="recording_file_not_found")
    return await _serve(
        request, await actions.segment_file(request[CTX], seg_id), download=download
    )


async def composite_file(request: web.Request, *, download: bool) -> web.StreamResponse:
    require_user(request)
    file = await actions.composite_file(request[CTX], session_id_of(request))
    return await _serve(request, file, download=download)


async def segment_play(request: web.Request) -> web.StreamResponse:
    return await segment_file(request, download=False)


async def segment_download(request: web.Request) -> web.StreamResponse:
    return await segment_file(request, download=True)


async def composite_play(request: web.Request) -> web.StreamResponse:
    return await composite_file(request, download=False)


async def composite_download(request: web.Request) -> web.StreamResponse:
    return await composite_file(request, download=True)
