"""Recordings JSON API and the file routes (play with HTTP range requests, download).

Who may see recordings is ``server.access.can_view_recordings`` (the case's assigned judge
and mediator, clerks, admins); anyone else who may see the case gets 403, anyone who may not
see it 404. Files are looked up by database id and resolved inside the recordings directory;
no route takes a file name. Every download, and every play that starts at the beginning of a
file (no Range, or a Range from byte 0: a browser's seeks within one play are not counted
again), goes into the audit log.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings import keys, paths, store
from server.access import can_view_recordings, is_host, load_case_for
from server.api.registry import ApiRouter
from server.audit import record
from server.errors import Conflict, Forbidden, NotFound
from server.live import RECORDINGS
from server.models.accounts import Role, User
from server.models.recordings import CompositeStatus, Recording, RecordingSegment, SegmentStatus
from server.sessions import load_session_for
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import DB, SETTINGS

api = ApiRouter("recordings")
HOLDERS = frozenset({Role.ADMIN, Role.CLERK, Role.JUDGE})


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


async def viewable_recording(db: AsyncSession, user: User, session_id: int) -> Recording:
    """The session's recording if ``user`` may see recordings of its case (404 / 403)."""
    session = await load_session_for(db, user, session_id)
    case = await load_case_for(db, user, session.case_id)
    if not can_view_recordings(user, case):
        raise Forbidden("only the case's judge and mediator, clerks and admins see recordings")
    rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
    if rec is None:
        raise NotFound("this session has no recording", code="recording_not_found")
    return rec


def _session_id(request: web.Request) -> int:
    try:
        return int(request.match_info["session_id"])
    except ValueError:
        raise NotFound("no such session", code="session_not_found") from None


@api.route(
    "GET",
    "/sessions/{session_id}/recording",
    name="api_recording",
    summary="A session's recording: segments, seal, composite progress",
    response=RecordingOut,
    errors=(401, 403, 404),
)
async def get_recording(request: web.Request) -> web.Response:
    user = require_user(request)
    rec = await viewable_recording(request[DB], user, _session_id(request))
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
    user = require_user(request)
    body = await read_json(request, ActiveIn)
    rec = await host_set_active(request, user, _session_id(request), body.active)
    return json_ok(recording_out(rec))


async def host_set_active(
    request: web.Request, user: User, session_id: int, active: bool
) -> Recording:
    """The host starts or stops recording of a live session (the API, the recordings page
    and the room's button all come here): audited, on the case timeline, announced."""
    db = request[DB]
    session = await load_session_for(db, user, session_id)
    if not is_host(user, session):
        raise Forbidden("only the session's host starts and stops recording", code="not_host")
    if session.status not in ("scheduled", "open"):
        raise Conflict("this session has ended", code="session_ended")
    rec = await store.recording_for(db, session.id)
    await request.app[RECORDINGS].set_active(
        db, rec, active, actor_id=user.id, actor=f"user:{user.id}:{user.username}"
    )
    return rec


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
    user = require_user(request)
    db = request[DB]
    rec = await viewable_recording(db, user, _session_id(request))
    await queue_composite(db, request, rec)
    return json_ok(recording_out(rec), 202)


async def queue_composite(db: AsyncSession, request: web.Request, rec: Recording) -> None:
    if rec.composite_status in (CompositeStatus.QUEUED, CompositeStatus.RUNNING):
        raise Conflict("the composite is already being made", code="composite_busy")
    if rec.sealed_at is None:
        raise Conflict("the recording is not sealed yet", code="recording_not_sealed")
    rec.composite_status, rec.composite_progress = CompositeStatus.QUEUED, 0.0
    rec.composite_attempts = 0
    await record(db, "recording.composite_retry", "recording", rec.id, request=request)
    request.app[RECORDINGS].composite_wakeup.set()


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
    user = require_user(request)
    body = await read_json(request, HoldIn)
    db = request[DB]
    rec = await viewable_recording(db, user, _session_id(request))
    await apply_hold(db, request, user, rec, body.hold, body.reason)
    return json_ok(recording_out(rec))


async def apply_hold(
    db: AsyncSession, request: web.Request, user: User, rec: Recording, hold: bool, reason: str
) -> None:
    if user.role not in HOLDERS:
        raise Forbidden("only judges, clerks and admins set legal holds")
    rec.legal_hold, rec.hold_reason = hold, reason.strip()
    action = "recording.hold" if hold else "recording.release"
    await record(db, action, "recording", rec.id, request=request, reason=rec.hold_reason)


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
    user = require_user(request)
    db = request[DB]
    try:
        case_id = int(request.match_info["case_id"])
    except ValueError:
        raise NotFound("no such case", code="case_not_found") from None
    case = await load_case_for(db, user, case_id)
    if not can_view_recordings(user, case):
        raise Forbidden("only the case's judge and mediator, clerks and admins see recordings")
    recs = (
        await db.scalars(
            select(Recording).where(Recording.case_id == case.id).order_by(Recording.session_id)
        )
    ).all()
    out = []
    for rec in recs:
        segs = [s for s in rec.segments if s.status != SegmentStatus.PURGED]
        ends = [s.started_at.timestamp() * 1000 + (s.duration_ms or 0) for s in segs]
        starts = [s.started_at.timestamp() * 1000 for s in segs]
        out.append(
            CaseRecordingOut(
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
        )
    return json_ok(out)


@api.route(
    "GET",
    "/recordings/key",
    name="api_recordings_key",
    summary="The public key that signs recording manifests",
    response=KeyOut,
    public=True,
)
async def public_key(request: web.Request) -> web.Response:
    key = keys.load_or_create(request.app[SETTINGS].data_dir).public_key()
    out = KeyOut(
        algorithm="Ed25519",
        fingerprint=keys.fingerprint(key),
        public_key_pem=keys.public_pem(key).decode(),
    )
    return json_ok(out.model_dump())


# --- files ---------------------------------------------------------------------------


async def _file_response(
    request: web.Request,
    rec: Recording,
    relpath: str | None,
    what: str,
    obj: str,
    *,
    download: bool,
    filename: str,
) -> web.StreamResponse:
    if relpath is None:
        raise NotFound("no such recording file", code="recording_file_not_found")
    path = paths.inside(request.app[SETTINGS], relpath)
    if not path.is_file():
        raise NotFound("no such recording file", code="recording_file_not_found")
    rng = request.headers.get("Range", "")
    if download or not rng or rng.replace(" ", "").startswith("bytes=0-"):
        await record(
            request[DB],
            "recording.downloaded" if download else "recording.played",
            "recording",
            rec.id,
            request=request,
            file=obj,
            what=what,
            range=rng or None,
        )
    disposition = "attachment" if download else "inline"
    headers = {
        "Content-Type": "video/webm",
        "Content-Disposition": f'{disposition}; filename="{filename}"',
        "Cache-Control": "private, no-store",
    }
    return web.FileResponse(path, headers=headers)


async def segment_file(request: web.Request, *, download: bool) -> web.StreamResponse:
    user = require_user(request)
    db = request[DB]
    try:
        seg_id = int(request.match_info["segment_id"])
    except ValueError:
        raise NotFound("no such recording file", code="recording_file_not_found") from None
    seg = await db.get(RecordingSegment, seg_id)
    if seg is None or seg.status == SegmentStatus.PURGED:
        raise NotFound("no such recording file", code="recording_file_not_found")
    owner = await db.get(Recording, seg.recording_id)
    if owner is None:
        raise NotFound("no such recording file", code="recording_file_not_found")
    rec = await viewable_recording(db, user, owner.session_id)
    name = paths.download_name(rec.session_id, seg.id, seg.label)
    return await _file_response(
        request, rec, seg.path, "segment", f"segment:{seg.id}", download=download, filename=name
    )


async def composite_file(request: web.Request, *, download: bool) -> web.StreamResponse:
    user = require_user(request)
    rec = await viewable_recording(request[DB], user, _session_id(request))
    if rec.composite_status != CompositeStatus.DONE:
        raise NotFound("the composite is not ready", code="composite_not_ready")
    name = f"session-{rec.session_id}-composite.webm"
    return await _file_response(
        request,
        rec,
        rec.composite_path,
        "composite",
        "composite",
        download=download,
        filename=name,
    )


async def segment_play(request: web.Request) -> web.StreamResponse:
    return await segment_file(request, download=False)


async def segment_download(request: web.Request) -> web.StreamResponse:
    return await segment_file(request, download=True)


async def composite_play(request: web.Request) -> web.StreamResponse:
    return await composite_file(request, download=False)


async def composite_download(request: web.Request) -> web.StreamResponse:
    return await composite_file(request, download=True)
