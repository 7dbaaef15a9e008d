"""Start-up recovery of segments a dead process left behind (``courtlink serve`` runs it
before the recorder starts).

Two kinds of leftovers, none dropped silently:
- rows still ``recording``: their file is remuxed (packets copied as they are, no codec) into
  a finalized file with duration and cues, which replaces the cut one; the row becomes
  ``interrupted`` with what could be read, or keeps the raw file with a note if it could not
  be remuxed;
- files with no row (the process died before the row was written): registered from the tags
  every file carries in its header, also as ``interrupted``.
A segment with no media on disk (no file, or a header and no frame: killed right after it
opened) becomes ``empty``: its header-only file is removed (the row keeps what the header
said), it is not sealed as a recording, and its note says so. Every recording touched is
marked interrupted, audited and sealed again. Notes name files relative to the recordings
directory, never by the server's absolute path.

Whose leftovers: a single server's are all of them. A cluster node at start takes only what
it left open itself (its rows and the files whose header names it, and those from before
segments named their node); another live node's open segments are being written as it
starts. A dead node's are taken by a live one (``server.cluster.recovery``) through the
same function, ``recover(court, nodes=(dead,))``, the recordings directory being shared.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select

from recordings import paths, seal
from recordings.probe import describe, probe
from recordings.store import RECORDER, recording_for
from recordings.writer import add_opus_stream
from server.audit import record
from server.context import Context, Court
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.models.sessions import MediationSession
from server.settings import Settings

log = logging.getLogger(__name__)
# A file this small with no readable frame is a segment's header alone (its tags: under 1 KB).
HEADER_MAX_BYTES = 4096


def finalize(path: Path) -> tuple[int, str]:
    """Remux the readable part of a cut file in place. Returns (packets kept, error)."""
    tmp = path.with_name(path.stem + ".recovering.webm")
    kept = 0
    try:
        with av.open(str(path)) as src:
            stream = src.streams[0]
            meta = dict(src.metadata)
            with av.open(str(tmp), "w", format="webm") as dst:
                dst.metadata.update({k: v for k, v in meta.items() if k != "ENCODER"})
                if stream.type == "video":
                    out = dst.add_mux_stream(
                        "vp8",
                        width=int(getattr(stream.codec_context, "width", 0)),
                        height=int(getattr(stream.codec_context, "height", 0)),
                        time_base=stream.time_base,
                    )
                else:
                    out = add_opus_stream(dst)  # older files lack the OpusHead: add it
                for packet in src.demux(stream):
                    if packet.size == 0 or packet.pts is None:
                        continue
                    packet.stream = out
                    dst.mux(packet)
                    kept += 1
    except (av.FFmpegError, IndexError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        return kept, describe(exc)
    if kept == 0:
        tmp.unlink(missing_ok=True)
        return 0, "no readable frames"
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return kept, ""


def _tags(path: Path) -> dict[str, str]:
    try:
        with av.open(str(path)) as src:
            return {k.lower(): v for k, v in src.metadata.items()}
    except (av.FFmpegError, OSError):
        return {}


def _note(seg: RecordingSegment, text: str) -> None:
    seg.note = (seg.note + "; " + text).strip("; ")


async def _recover_segment(settings: Settings, seg: RecordingSegment) -> None:
    path = paths.inside(settings, seg.path)
    seg.status = SegmentStatus.INTERRUPTED
    seg.end_reason = "crash"
    if not path.exists():
        seg.status = SegmentStatus.EMPTY
        seg.frames = seg.keyframes = seg.duration_ms = 0
        seg.ended_at = seg.started_at
        _note(seg, "no media: no file was written before the crash")
        return
    raw_size = path.stat().st_size
    kept, error = await asyncio.to_thread(finalize, path)
    facts = await asyncio.to_thread(probe, path)
    if facts.frames == 0 and raw_size <= HEADER_MAX_BYTES:
        # Only the header reached the disk: nothing to play, nothing to seal. The header's
        # tags are already in the row. (A larger file with no readable frame is kept and
        # sealed as it is: something other than a kill broke it, and verify names it.)
        path.unlink(missing_ok=True)
        seg.status = SegmentStatus.EMPTY
        seg.frames = seg.keyframes = seg.duration_ms = 0
        seg.ended_at = seg.started_at
        _note(seg, f"no media: the crash left a header of {raw_size} bytes and no frame; removed")
        return
    seg.frames, seg.keyframes, seg.duration_ms = facts.frames, facts.keyframes, facts.duration_ms
    seg.ended_at = seg.started_at + timedelta(milliseconds=facts.duration_ms)
    if error:
        _note(seg, f"recovery kept the raw file ({raw_size} bytes): {error}")
    else:
        _note(seg, f"recovered {kept} frames from a cut file of {raw_size} bytes")


async def _orphans(ctx: Context, nodes: tuple[str, ...] | None) -> list[RecordingSegment]:
    """Files on disk that no row knows (of ``nodes``, None: any node's): register them from
    their header tags."""
    db = ctx.db
    base = paths.root(ctx.settings)
    if not base.exists():
        return []
    known = set((await db.scalars(select(RecordingSegment.path))).all())
    found = []
    for path in sorted(base.glob("session-*/*.webm")):
        rel = path.relative_to(base).as_posix()
        if rel in known or path.name.endswith(".recovering.webm"):
            continue
        tags = await asyncio.to_thread(_tags, path)
        node = tags.get("courtlink_node", "")
        if nodes is not None and node not in nodes:
            continue  # a live node's file, its row not written yet (or another's to take)
        session_id = int(path.parent.name.removeprefix("session-"))
        if await db.get(MediationSession, session_id) is None:
            log.error("recording file %s belongs to no known session; left in place", rel)
            continue
        rec = await recording_for(db, session_id)
        started = tags.get("courtlink_started_at") or tags.get("creation_time") or ""
        try:
            started_at = datetime.fromisoformat(started.replace("Z", "+00:00"))
        except ValueError:
            started_at = ctx.now()
        seg = RecordingSegment(
            recording_id=rec.id,
            uid=path.stem[:32],
            peer_id=tags.get("courtlink_peer", ""),
            identity=tags.get("courtlink_identity", ""),
            participant=tags.get("courtlink_participant", tags.get("courtlink_peer", "")),
            # Files written before rooms were typed name the SFU's room ("s12:main").
            room=tags.get("courtlink_room", "main").split(":")[-1],
            label=tags.get("courtlink_label", ""),
            kind=tags.get("courtlink_kind", "video"),
            codec=tags.get("courtlink_codec", ""),
            path=rel,
            status=SegmentStatus.RECORDING,
            started_at=started_at,
            note="registered from the file's own header at recovery",
            node=node,
        )
        db.add(seg)
        found.append(seg)
    await db.flush()
    return found


async def open_nodes(court: Court) -> set[str]:
    """The nodes that have segments open (being written, or left open by a crash)."""
    async with court.unit(RECORDER) as ctx:
        query = select(RecordingSegment.node).where(
            RecordingSegment.status == SegmentStatus.RECORDING
        )
        return set((await ctx.db.scalars(query.distinct())).all())


async def recover(court: Court, nodes: tuple[str, ...] | None = None) -> list[int]:
    """Finalize, mark and seal everything a crash left open (of ``nodes``; None: of every
    node, a single server), in one unit of work as the recorder. Returns the sessions
    touched."""
    settings = court.settings
    async with court.unit(RECORDER) as ctx:
        db = ctx.db
        query = select(RecordingSegment).where(RecordingSegment.status == SegmentStatus.RECORDING)
        if nodes is not None:
            query = query.where(RecordingSegment.node.in_(nodes))
        open_rows = list((await db.scalars(query)).all())
        open_rows += await _orphans(ctx, nodes)
        touched: set[int] = set()
        for seg in open_rows:
            await _recover_segment(settings, seg)
            touched.add(seg.recording_id)
        for rec_id in sorted(touched):
            rec = await db.get(Recording, rec_id)
            assert rec is not None
            rec.interrupted = True
            await record(
                ctx,
                "recording.recovered",
                "recording",
                rec.id,
                session_id=rec.session_id,
                segments=[s.uid for s in open_rows if s.recording_id == rec_id],
            )
            await seal.seal(ctx, rec)
        sessions = [
            r.session_id
            for r in (await db.scalars(select(Recording).where(Recording.id.in_(touched)))).all()
        ]
    for session_id in sessions:
        log.warning("recovered interrupted recording of session %s", session_id)
    return sessions
