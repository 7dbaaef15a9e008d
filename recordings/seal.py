"""Sealing a session's recording: per-file facts into the database, and a manifest of every
file (hashes, participants, times, case number) signed with the server's Ed25519 key.

The manifest is written as ``manifest.json`` (canonical JSON, the exact bytes that are
signed) beside the files, with ``manifest.sig`` holding the base64 signature; the manifest's
SHA-256 and the signature are also kept in the database, so replacing both files is caught
too. Sealing runs again after recovery or a restart of recording: the newest manifest covers
every file the session has.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from recordings import keys, paths
from recordings.probe import probe, sha256_file
from server.audit import record
from server.context import Context
from server.files import write_atomic
from server.models.docket import Case
from server.models.recordings import Recording, RecordingSegment, SegmentStatus
from server.models.sessions import SessionGuest
from server.settings import Settings

FORMAT = "courtlink-recording-manifest/1"
# The segments whose files a seal covers: closed ones with media (not still recording, not
# purged, not ``empty``).
SEALED = frozenset({SegmentStatus.COMPLETE, SegmentStatus.INTERRUPTED, SegmentStatus.FAILED})


def canonical(data: dict[str, Any]) -> bytes:
    return (
        json.dumps(data, sort_keys=True, ensure_ascii=False, indent=1, separators=(",", ": "))
        + "\n"
    ).encode()


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def refresh_facts(settings: Settings, segment: RecordingSegment) -> None:
    """Store SHA-256, size, duration and frame counts of one closed segment's file."""
    path = paths.inside(settings, segment.path)
    if not path.exists():
        segment.note = (segment.note + "; file missing at sealing").strip("; ")
        return
    facts = await asyncio.to_thread(probe, path)
    segment.sha256, segment.size = facts.sha256, facts.size
    segment.duration_ms, segment.frames = facts.duration_ms, facts.frames
    segment.keyframes = facts.keyframes
    if not facts.readable:
        segment.note = (segment.note + f"; unreadable: {facts.error}").strip("; ")


def manifest_for(
    settings: Settings,
    rec: Recording,
    case: Case,
    sealed_at: datetime,
    guests: Sequence[SessionGuest] = (),
) -> dict[str, Any]:
    """The manifest's content. ``guests``: the session's guests of joint mediation, whose
    organisation and role the participants' list carries beside their name."""
    about = {f"guest:{g.id}": {"organisation": g.organisation, "role": g.role} for g in guests}
    files = []
    people: dict[str, str] = {}
    for seg in rec.segments:
        if seg.status not in SEALED or seg.sha256 is None:
            continue
        people.setdefault(seg.identity or seg.peer_id, seg.participant)
        files.append(
            {
                "name": Path(seg.path).name,
                "segment_id": seg.id,
                "participant": seg.participant,
                "identity": seg.identity,
                "room": seg.room,
                "label": seg.label,
                "kind": seg.kind,
                "codec": seg.codec,
                "width": seg.width,
                "height": seg.height,
                "started_at": _iso(seg.started_at),
                "ended_at": _iso(seg.ended_at),
                "status": seg.status,
                "end_reason": seg.end_reason,
                "sha256": seg.sha256,
                "size": seg.size,
                "duration_ms": seg.duration_ms,
                "frames": seg.frames,
                "keyframes": seg.keyframes,
            }
        )
    session = rec.session
    return {
        "format": FORMAT,
        "court": settings.court_name,
        "case_id": case.id,
        "case_number": case.number,
        "session_id": rec.session_id,
        "session_kind": session.kind,
        "session_opened_at": _iso(session.opened_at),
        "session_ended_at": _iso(session.ended_at),
        "sealed_at": _iso(sealed_at),
        "interrupted": rec.interrupted,
        "participants": [
            {"identity": k, "name": v, **about.get(k, {})} for k, v in sorted(people.items())
        ],
        "files": sorted(files, key=lambda f: (f["started_at"] or "", f["name"])),
    }


async def seal(ctx: Context, rec: Recording) -> dict[str, Any]:
    """Hash every closed segment, write and sign the manifest, store the seal, audit it (as
    ``ctx.actor``: the recorder, recovery, or whoever ended the session)."""
    db, settings = ctx.db, ctx.settings
    segments = (
        await db.scalars(select(RecordingSegment).where(RecordingSegment.recording_id == rec.id))
    ).all()
    for seg in segments:
        if seg.status in SEALED:
            await refresh_facts(settings, seg)
    await db.flush()
    await db.refresh(rec, ["segments", "session"])
    case = await db.get(Case, rec.case_id)
    assert case is not None
    sealed_at = ctx.now()
    guests = await db.scalars(select(SessionGuest).where(SessionGuest.session_id == rec.session_id))
    manifest = manifest_for(settings, rec, case, sealed_at, guests.all())
    data = canonical(manifest)
    key = await asyncio.to_thread(keys.load_or_create, settings.data_dir)
    signature = keys.sign(key, data)
    directory = paths.session_dir(settings, rec.session_id)
    directory.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(write_atomic, directory / paths.MANIFEST, data)
    await asyncio.to_thread(write_atomic, directory / paths.SIGNATURE, signature.encode() + b"\n")
    rec.manifest_sha256 = sha256_file(directory / paths.MANIFEST)[0]
    rec.manifest_signature = signature
    rec.key_fingerprint = keys.fingerprint(key.public_key())
    rec.sealed_at = sealed_at
    await record(
        ctx,
        "recording.sealed",
        "recording",
        rec.id,
        session_id=rec.session_id,
        files=len(manifest["files"]),
        manifest_sha256=rec.manifest_sha256,
        interrupted=rec.interrupted,
    )
    return manifest
