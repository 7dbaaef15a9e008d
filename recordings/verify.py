"""Checking a sealed recording: the manifest's signature, every file's SHA-256, files that
are missing, altered or not listed, that every file opens and decodes the frames the manifest
and the segment's row say it holds (an unplayable or empty file fails), and the database's
copy of the seal. Segments recorded as ``empty`` (no media reached the disk) are counted, not
failed: they are not part of the sealed recording.

Pure reads; used by ``courtlink recordings verify`` and the session page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings import keys, paths
from recordings.probe import decoded_frames, sha256_file
from recordings.seal import SEALED
from server.models.recordings import Recording, SegmentStatus
from server.settings import Settings


@dataclass
class Problem:
    name: str
    # missing | altered | unlisted | unplayable | frames | signature | manifest | unsealed
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind.upper()}: {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class Report:
    session_id: int
    files: int = 0
    problems: list[Problem] = field(default_factory=list)
    decoded: dict[str, int] = field(default_factory=dict)  # file name: frames decoded
    empty: int = 0  # segments recorded as having no media

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_directory(settings: Settings, session_id: int) -> Report:
    """Check one session directory against its signed manifest (no database needed)."""
    report = Report(session_id)
    directory = paths.session_dir(settings, session_id)
    manifest_path = directory / paths.MANIFEST
    sig_path = directory / paths.SIGNATURE
    if not manifest_path.exists() or not sig_path.exists():
        report.problems.append(
            Problem(str(manifest_path), "manifest", "manifest or signature missing")
        )
        return report
    data = manifest_path.read_bytes()
    public = keys.load_public(settings.data_dir)
    if public is None:
        report.problems.append(Problem(str(sig_path), "signature", "no public key to check with"))
    elif not keys.check(public, data, sig_path.read_text().strip()):
        report.problems.append(Problem(str(manifest_path), "signature", "signature does not match"))
    try:
        manifest = json.loads(data)
        listed = {str(f["name"]): f for f in manifest["files"]}
    except (ValueError, KeyError, TypeError) as exc:
        report.problems.append(Problem(str(manifest_path), "manifest", f"unreadable: {exc}"))
        return report
    for name, entry in sorted(listed.items()):
        path = directory / name
        report.files += 1
        if Path(name).name != name or not path.is_file():
            report.problems.append(Problem(str(path), "missing"))
            continue
        digest, size = sha256_file(path)
        if digest != entry.get("sha256") or size != entry.get("size"):
            report.problems.append(Problem(str(path), "altered", "SHA-256 differs from manifest"))
        _check_decodes(report, path, entry.get("frames"))
    for path in sorted(directory.iterdir()):
        if path.name in (paths.MANIFEST, paths.SIGNATURE) or path.name in listed:
            continue
        report.problems.append(Problem(str(path), "unlisted"))
    return report


def _check_decodes(report: Report, path: Path, expected: object) -> None:
    """Open and decode the file as a player would: it must give the frames it should."""
    frames, error = decoded_frames(path)
    report.decoded[path.name] = frames
    if error:
        report.problems.append(Problem(str(path), "unplayable", error))
    elif frames == 0:
        report.problems.append(Problem(str(path), "unplayable", "no frame decodes (empty)"))
    elif frames != expected:
        report.problems.append(
            Problem(str(path), "frames", f"the manifest says {expected}, the file decodes {frames}")
        )


async def verify_session(db: AsyncSession, settings: Settings, rec: Recording) -> Report:
    """The directory check plus the database: the seal it stores and the segments it knows."""
    report = verify_directory(settings, rec.session_id)
    _name_segments(report, rec)
    manifest_path = paths.session_dir(settings, rec.session_id) / paths.MANIFEST
    if rec.manifest_sha256 is None:
        report.problems.append(Problem(str(manifest_path), "unsealed", "never sealed"))
        return report
    if manifest_path.exists() and sha256_file(manifest_path)[0] != rec.manifest_sha256:
        report.problems.append(
            Problem(str(manifest_path), "manifest", "differs from the sealed copy's hash")
        )
    try:
        listed = {f["name"] for f in json.loads(manifest_path.read_bytes())["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    for seg in rec.segments:
        name = Path(seg.path).name
        if seg.status == SegmentStatus.PURGED:
            continue
        if seg.status == SegmentStatus.EMPTY:
            report.empty += 1
            continue
        decoded = report.decoded.get(name)
        if seg.status in SEALED and decoded is not None and decoded != seg.frames:
            report.problems.append(
                Problem(
                    name, "frames", f"the segment says {seg.frames}, the file decodes {decoded}"
                )
            )
        if seg.status == SegmentStatus.RECORDING:
            report.problems.append(Problem(name, "unsealed", "still recording"))
        elif name not in listed:
            # A segment the database knows but the seal does not: never pass it silently.
            kind = "missing" if seg.sha256 is None else "unsealed"
            report.problems.append(Problem(name, kind, "segment not in the manifest"))
    return report


def _name_segments(report: Report, rec: Recording) -> None:
    # A clerk holds a downloaded copy named after the segment, not the stored uid: say which
    # segment (and whose track) each bad file is.
    by_name = {Path(seg.path).name: seg for seg in rec.segments}
    for problem in report.problems:
        seg = by_name.get(Path(problem.name).name)
        if seg is not None:
            download = paths.download_name(rec.session_id, seg.id, seg.label)
            who = f"segment {seg.id}, {seg.participant}, {seg.label}, downloaded as {download}"
            problem.detail = f"{problem.detail}; {who}" if problem.detail else who


async def sealed_recordings(db: AsyncSession, session_id: int | None) -> list[Recording]:
    query = select(Recording).where(Recording.purged_at.is_(None)).order_by(Recording.session_id)
    if session_id is not None:
        query = query.where(Recording.session_id == session_id)
    return list((await db.scalars(query)).all())
