"""What people do with recordings, for the JSON API and the pages alike: see a session's
recording, start or stop it (the host), queue the composite again, set a legal hold, list a
case's recordings, open a recording's files (every play and download audited), and the
administration's purge preview.

Who may see recordings is ``server.access.can_view_recordings`` (the case's assigned judge
and mediator, clerks, admins); anyone else who may see the case is refused (403), anyone who
may not see it is told it does not exist (404). Files are looked up by database id and
resolved inside the recordings directory; no caller names a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from recordings import paths, retention, store
from recordings.service import RecordingService
from server.access import (
    can_administer_recordings,
    can_hold_recording,
    can_view_recordings,
    is_host,
    load_case_for,
)
from server.audit import record
from server.context import Context
from server.errors import Conflict, Forbidden, NotFound
from server.models.accounts import User
from server.models.audit import AuditEntry
from server.models.docket import Case
from server.models.recordings import CompositeStatus, Recording, RecordingSegment, SegmentStatus
from server.sessions import LIVE_STATUSES, load_session_for


def _may_view(user: User, case: Case) -> None:
    if not can_view_recordings(user, case):
        raise Forbidden("only the case's judge and mediator, clerks and admins see recordings")


async def viewable_recording(ctx: Context, session_id: int) -> Recording:
    """The session's recording if the acting user may see recordings of its case."""
    user = ctx.require_user()
    session = await load_session_for(ctx, session_id)
    _may_view(user, await load_case_for(ctx.db, user, session.case_id))
    rec = await ctx.db.scalar(select(Recording).where(Recording.session_id == session_id))
    if rec is None:
        raise NotFound("this session has no recording", code="recording_not_found")
    return rec


async def case_recordings(ctx: Context, case_id: int) -> list[Recording]:
    """The recordings of a case's sessions, in session order."""
    user = ctx.require_user()
    case = await load_case_for(ctx.db, user, case_id)
    _may_view(user, case)
    rows = await ctx.db.scalars(
        select(Recording).where(Recording.case_id == case.id).order_by(Recording.session_id)
    )
    return list(rows.all())


async def host_set_active(
    ctx: Context, service: RecordingService, session_id: int, active: bool
) -> Recording:
    """The host starts or stops recording of a live session (the API, the recordings page
    and the room's button all come here): audited, on the case timeline, and the live
    ``service`` records or stops once the change is committed."""
    user = ctx.require_user()
    session = await load_session_for(ctx, session_id)
    if not is_host(user, session):
        raise Forbidden("only the session's host starts and stops recording", code="not_host")
    if session.status not in LIVE_STATUSES:
        raise Conflict("this session has ended", code="session_ended")
    rec = await store.recording_for(ctx.db, session.id)
    await service.set_active(ctx, rec, active)
    return rec


async def queue_composite(ctx: Context, session_id: int) -> Recording:
    """Make the session's composite playback file again (after a failure, or anew); the
    worker is woken once this is committed."""
    rec = await viewable_recording(ctx, session_id)
    if rec.composite_status in (CompositeStatus.QUEUED, CompositeStatus.RUNNING):
        raise Conflict("the composite is already being made", code="composite_busy")
    if rec.sealed_at is None:
        raise Conflict("the recording is not sealed yet", code="recording_not_sealed")
    rec.composite_status, rec.composite_progress = CompositeStatus.QUEUED, 0.0
    rec.composite_attempts = 0
    await record(ctx, "recording.composite_retry", "recording", rec.id)
    ctx.signal_after_commit("composite")
    return rec


async def apply_hold(ctx: Context, session_id: int, hold: bool, reason: str) -> Recording:
    """Set or lift a legal hold on the session's recording (a held one is never purged)."""
    rec = await viewable_recording(ctx, session_id)
    if not can_hold_recording(ctx.require_user()):
        raise Forbidden("only judges, clerks and admins set legal holds")
    rec.legal_hold, rec.hold_reason = hold, reason.strip()
    action = "recording.hold" if hold else "recording.release"
    await record(ctx, action, "recording", rec.id, reason=rec.hold_reason)
    return rec


async def retention_preview(ctx: Context) -> list[retention.Candidate]:
    """What the purge would delete now (held recordings flagged): for the administration."""
    if not can_administer_recordings(ctx.require_user()):
        raise Forbidden("your role may not do this")
    return await retention.candidates(ctx)


# --- files -------------------------------------------------------------------------------

NO_FILE = "no such recording file"


@dataclass(frozen=True)
class RecordingFile:
    """One file of a recording that the acting user may open."""

    recording: Recording
    path: Path
    what: str  # "segment" or "composite"
    name: str  # how the audit log names it: "segment:<id>" or "composite"
    filename: str  # offered to the browser


def _on_disk(ctx: Context, relpath: str | None) -> Path:
    if relpath is None:
        raise NotFound(NO_FILE, code="recording_file_not_found")
    path = paths.inside(ctx.settings, relpath)
    if not path.is_file():
        raise NotFound(NO_FILE, code="recording_file_not_found")
    return path


async def segment_file(ctx: Context, segment_id: int) -> RecordingFile:
    """A participant's track file (never a purged one)."""
    seg = await ctx.db.get(RecordingSegment, segment_id)
    if seg is None or seg.status == SegmentStatus.PURGED:
        raise NotFound(NO_FILE, code="recording_file_not_found")
    owner = await ctx.db.get(Recording, seg.recording_id)
    if owner is None:
        raise NotFound(NO_FILE, code="recording_file_not_found")
    rec = await viewable_recording(ctx, owner.session_id)
    name = paths.download_name(rec.session_id, seg.id, seg.label)
    return RecordingFile(rec, _on_disk(ctx, seg.path), "segment", f"segment:{seg.id}", name)


async def composite_file(ctx: Context, session_id: int) -> RecordingFile:
    """The session's composite playback file, once it is made."""
    rec = await viewable_recording(ctx, session_id)
    if rec.composite_status != CompositeStatus.DONE:
        raise NotFound("the composite is not ready", code="composite_not_ready")
    name = f"session-{rec.session_id}-composite.webm"
    return RecordingFile(rec, _on_disk(ctx, rec.composite_path), "composite", "composite", name)


# How long a play lasts for the audit log: a player's follow-up ranges and seeks for the same
# file by the same user within this time of the play's audited request are that play.
PLAY_WINDOW = timedelta(minutes=15)


async def file_opened(
    ctx: Context, file: RecordingFile, *, download: bool, range_header: str
) -> None:
    """Into the audit log: every download, and every play. A play is audited at its first
    request whatever byte that request starts at (a range from byte 1 fetches nearly the
    whole file, so the start of the range cannot decide); the same user's further requests
    for the same file within ``PLAY_WINDOW`` of that row are the same play, not counted
    again. So no request for a file's bytes goes unaudited unless its user has an audited
    play of that file in the last ``PLAY_WINDOW``."""
    if not download and await _playing(ctx, file):
        return
    await record(
        ctx,
        "recording.downloaded" if download else "recording.played",
        "recording",
        file.recording.id,
        file=file.name,
        what=file.what,
        range=range_header or None,
    )


async def _playing(ctx: Context, file: RecordingFile) -> bool:
    rows = await ctx.db.scalars(
        select(AuditEntry.detail).where(
            AuditEntry.action == "recording.played",
            AuditEntry.object_type == "recording",
            AuditEntry.object_id == str(file.recording.id),
            AuditEntry.actor == ctx.actor.audit_name,
            AuditEntry.at >= ctx.now() - PLAY_WINDOW,
        )
    )
    return any(detail.get("file") == file.name for detail in rows.all())
