"""Database side of recording: the ``Recording`` row of a session, segment rows as the
recorder opens and closes files, host start/stop, and the alarm.

Functions that write the audit log or the case timeline, or read the clock, take the unit of
work (``Context``) first; the row lookups take the session. None of them commits: the
caller's unit of work does.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.events import Alarm, Closed, Opened
from server.audit import record
from server.context import Actor, Context
from server.errors import NotFound
from server.models.docket import DocketEntry
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.models.sessions import MediationSession

# Who the audit log names for the recordings' own work: sealing, alarms, recovery, composites.
RECORDER = Actor.system("recorder")


async def recording_for(db: AsyncSession, session_id: int, *, create: bool = True) -> Recording:
    """The session's recording row, created on first need."""
    rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
    if rec is not None:
        return rec
    session = await db.get(MediationSession, session_id)
    if session is None or not create:
        raise NotFound(
            "session {id} not found", code="session_not_found", values={"id": session_id}
        )
    try:
        # Two tasks may create it at once (policy load and first segment): the unique
        # constraint decides, and the loser reads the winner's row.
        async with db.begin_nested():
            # Its relations are given, not left to load: a fresh row's lazy load of
            # ``segments`` would be I/O outside the async session (a 500 for the host who
            # starts recording before any media arrived).
            rec = Recording(
                session_id=session_id, case_id=session.case_id, session=session, segments=[]
            )
            db.add(rec)
    except IntegrityError:
        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        assert rec is not None
    return rec


async def segment_opened(
    db: AsyncSession, event: Opened, people: dict[str, str], node: str = ""
) -> None:
    rec = await recording_for(db, event.session_id)
    db.add(
        RecordingSegment(
            recording_id=rec.id,
            uid=event.uid,
            peer_id=event.peer_id,
            identity=people.get("identity", ""),
            participant=people.get("participant", event.peer_id),
            room=event.room,
            label=event.label,
            kind=event.kind,
            codec=event.codec,
            width=event.width,
            height=event.height,
            path=event.relpath,
            status=SegmentStatus.RECORDING,
            started_at=event.started_at,
            note=event.note,
            node=node,
        )
    )


async def segment_closed(ctx: Context, event: Closed) -> None:
    seg = await ctx.db.scalar(select(RecordingSegment).where(RecordingSegment.uid == event.uid))
    if seg is None:
        return
    seg.status = SegmentStatus.FAILED if event.failed else SegmentStatus.COMPLETE
    seg.ended_at = ctx.now()
    seg.end_reason = event.reason
    seg.frames = event.stats.frames
    seg.keyframes = event.stats.keyframes
    seg.duration_ms = event.stats.duration_ms
    seg.lost_frames = event.lost_frames
    if event.skipped_frames:
        seg.note = (seg.note + f"; {event.skipped_frames} frames before the first keyframe").strip()


async def alarm_raised(ctx: Context, event: Alarm) -> Recording:
    """Recording stopped by itself (full disk, write error): audited, and on the case's
    timeline with no one as its author."""
    rec = await recording_for(ctx.db, event.session_id)
    rec.active = False
    rec.alarm = f"{event.reason}: {event.message}"
    await record(
        ctx,
        "recording.alarm",
        "recording",
        rec.id,
        session_id=event.session_id,
        reason=event.reason,
        message=event.message,
    )
    _timeline(ctx, rec, "recording_alarm", f"recording stopped: {event.reason}")
    return rec


async def set_active(ctx: Context, rec: Recording, active: bool) -> None:
    """The host's start/stop: into the audit log and the case's timeline."""
    rec.active = active
    if active:
        rec.alarm = None
    action = "recording.started" if active else "recording.stopped"
    await record(ctx, action, "recording", rec.id, session_id=rec.session_id)
    text = "recording started" if active else "recording stopped"
    _timeline(ctx, rec, "recording", f"{text} (session {rec.session_id})", active=active)


def _timeline(ctx: Context, rec: Recording, kind: str, text: str, **extra: object) -> None:
    # The timeline names an account as the author; the system's entries have none.
    actor_id = ctx.actor.id if ctx.actor.kind == "user" else None
    ctx.db.add(
        DocketEntry(
            case_id=rec.case_id,
            actor_id=actor_id,
            kind=kind,
            text=text,
            data={"session_id": rec.session_id, "recording_id": rec.id, **extra},
        )
    )
