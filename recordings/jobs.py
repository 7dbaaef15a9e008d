"""The background composite job: one at a time by default (``COMPOSITE_WORKERS``), progress
in the database every half second for the session page's bar, retried once by itself after a
failure, and again whenever someone allowed presses "retry". ``CompositeWorker.run`` is the
loop a supervisor runs; it also seals the sessions that ended while nobody was connected. It
wakes early when the recording service's ``composite_wakeup`` is set (the court's
``composite`` signal, asked for after a commit that queued a render).

A job runs once however many nodes share the database: ``claim`` takes it with a lease in
the node's name (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's one writer at a time
needs nothing more), the render renews the lease with every progress report, and another
node takes a job over only once its lease has run out (its node died). A node that restarts
takes back its own unfinished jobs at once. Leases run on the real clock, never the court's
(which the demo and the tests may hold still).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from recordings import paths
from recordings.composite import Source, render
from recordings.probe import sha256_file
from recordings.seal import SEALED
from recordings.service import RecordingService
from recordings.store import RECORDER
from server.audit import record
from server.context import Court
from server.db import not_cut_short
from server.models.base import utcnow
from server.models.recordings import CompositeStatus, Recording
from server.settings import Settings

log = logging.getLogger(__name__)
AUTO_ATTEMPTS = 2
POLL_SECONDS = 30.0
# A render reports every half second; a lease this long survives a busy minute, and a dead
# node's job waits at most this long for another node.
LEASE = timedelta(seconds=60)


class RenderStopped(Exception):
    """Raised inside the render thread when the worker is stopping (the row stays "running"
    and the job runs again at the next start)."""


class _Progress:
    """The render's progress, and the way to stop it: the thread reports here after every
    chunk it encodes, so a stop takes effect within one chunk instead of after the whole
    render (a two-minute recording takes minutes to render on a busy machine, and a server
    told to stop must not wait for it)."""

    value = 0.0
    stopping = False

    def set(self, value: float) -> None:
        if self.stopping:
            raise RenderStopped
        self.value = value


def sources_of(settings: Settings, rec: Recording) -> list[Source]:
    usable = [s for s in rec.segments if s.status in SEALED and (s.frames or 0) > 0]
    if not usable:
        return []
    t0 = min(s.started_at for s in usable)
    return [
        Source(
            path=paths.inside(settings, s.path),
            kind=s.kind,
            slot=f"{s.identity or s.peer_id}/{s.label}",
            start_ms=round((s.started_at - t0).total_seconds() * 1000),
            duration_ms=s.duration_ms or 0,
        )
        for s in usable
    ]


async def _report_progress(
    court: Court, rec_id: int, value: float, task: asyncio.Future[Any]
) -> None:
    async with court.unit(RECORDER) as ctx:
        row = await ctx.db.get(Recording, rec_id)
        if row is not None and not task.done():
            row.composite_progress = round(value, 3)
            row.composite_lease_until = utcnow() + LEASE  # still ours, still alive


async def run_job(court: Court, rec_id: int, owner: str) -> bool:
    """Render the composite of a recording ``owner`` has claimed. Returns whether it
    succeeded."""
    settings = court.settings
    async with court.unit(RECORDER) as ctx:
        rec = await ctx.db.get(Recording, rec_id)
        if rec is None:
            return False
        sources = sources_of(settings, rec)
        session_id = rec.session_id
    progress = _Progress()
    out = paths.inside(settings, paths.composite_relpath(session_id))
    task = asyncio.ensure_future(asyncio.to_thread(render, sources, out, progress.set))
    try:
        while not task.done():
            await asyncio.wait([task], timeout=0.5)
            # run to its end even when the job is cancelled meanwhile (``not_cut_short``)
            await not_cut_short(_report_progress(court, rec_id, progress.value, task))
    except asyncio.CancelledError:
        progress.stopping = True
        done, _ = await asyncio.wait([task], timeout=10)
        for finished in done:
            finished.exception()  # RenderStopped: retrieved, so asyncio does not report it lost
        raise
    # The render is done: its outcome is recorded even when the server stops meanwhile, or
    # the next start would find the job "running" and render it all again.
    return await not_cut_short(_finish(court, rec_id, session_id, task, out))


async def _finish(
    court: Court, rec_id: int, session_id: int, task: asyncio.Future[int], out: Path
) -> bool:
    """The render's last unit of work: the composite's digest, the row marked done (or
    failed, with why), and the audit row."""
    async with court.unit(RECORDER) as ctx:
        rec = await ctx.db.get(Recording, rec_id)
        assert rec is not None
        rec.composite_owner, rec.composite_lease_until = None, None
        try:
            duration = task.result()
        except Exception as exc:
            log.exception("composite of session %s failed", session_id)
            rec.composite_status = CompositeStatus.FAILED
            rec.composite_error = f"{type(exc).__name__}: {exc}"[:2000]
            return False
        digest, size = await asyncio.to_thread(sha256_file, out)
        rec.composite_status = CompositeStatus.DONE
        rec.composite_progress = 1.0
        rec.composite_path = Path(paths.composite_relpath(session_id)).as_posix()
        rec.composite_size, rec.composite_sha256 = size, digest
        rec.composite_duration_ms = duration
        await record(
            ctx,
            "recording.composite",
            "recording",
            rec.id,
            session_id=session_id,
            sha256=digest,
            size=size,
        )
    return True


def _due(now: datetime) -> ColumnElement[bool]:
    return Recording.purged_at.is_(None) & or_(
        Recording.composite_status == CompositeStatus.QUEUED,
        (Recording.composite_status == CompositeStatus.FAILED)
        & (Recording.composite_attempts < AUTO_ATTEMPTS),
        # A dead node's job, once its lease has run out.
        (Recording.composite_status == CompositeStatus.RUNNING)
        & (Recording.composite_lease_until.is_(None) | (Recording.composite_lease_until <= now)),
    )


async def claim(court: Court, owner: str, skip: Collection[int] = ()) -> int | None:
    """Take the next due job for ``owner`` with a lease (status running, one more attempt);
    None when none is due. Two nodes claiming at once never take the same job."""
    now = utcnow()
    async with court.unit(RECORDER) as ctx:
        query = select(Recording.id).where(_due(now)).order_by(Recording.id).limit(1)
        if skip:
            query = query.where(Recording.id.not_in(list(skip)))
        if ctx.db.get_bind().dialect.name == "postgresql":
            # A job another node is claiming right now is passed over, not waited for.
            query = query.with_for_update(skip_locked=True)
        rec_id = await ctx.db.scalar(query)
        if rec_id is None:
            return None
        rec = await ctx.db.get(Recording, rec_id)
        assert rec is not None
        rec.composite_status = CompositeStatus.RUNNING
        rec.composite_progress = 0.0
        rec.composite_attempts += 1
        rec.composite_error = ""
        rec.composite_owner, rec.composite_lease_until = owner, now + LEASE
        return rec_id


async def take_back(court: Court, owner: str) -> int:
    """A node starting again: its own jobs left running are due again now, not when their
    leases run out (nobody else can be rendering them). Returns how many."""
    async with court.unit(RECORDER) as ctx:
        rows = (
            await ctx.db.scalars(
                select(Recording).where(
                    Recording.composite_status == CompositeStatus.RUNNING,
                    Recording.composite_owner == owner,
                )
            )
        ).all()
        for rec in rows:
            rec.composite_status = CompositeStatus.QUEUED
            rec.composite_owner, rec.composite_lease_until = None, None
        return len(rows)


class CompositeWorker:
    """Seals the sessions that ended unsealed and renders the queued composites, ``workers``
    at a time, until cancelled: ``run`` is what a supervisor starts, restarts and stops."""

    def __init__(self, court: Court, service: RecordingService, owner: str) -> None:
        self.court, self.service, self.owner = court, service, owner
        self.running: dict[int, asyncio.Task[bool]] = {}

    async def run(self) -> None:
        try:
            await self._loop()
        finally:
            # A job cut short here is found "running" at the next start and runs again.
            jobs = list(self.running.values())
            for task in jobs:
                task.cancel()
            if jobs:
                # Bounded: a render stuck in its thread must not hang the server's shutdown.
                await asyncio.wait(jobs, timeout=10)

    async def _loop(self) -> None:
        court, service = self.court, self.service
        slots = asyncio.Semaphore(max(1, court.settings.composite_workers))
        await take_back(court, self.owner)
        while True:
            try:
                await service.sweep()
            except Exception:
                log.exception("sealing sweep failed")
            while True:
                await slots.acquire()
                rec_id = await claim(court, self.owner, skip=self.running)
                if rec_id is None:
                    slots.release()
                    break
                self.running[rec_id] = asyncio.ensure_future(self._job(rec_id, slots))
            service.composite_wakeup.clear()
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives
            # as the wake-up fires, and the supervisor could not stop this worker.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_SECONDS):
                    await service.composite_wakeup.wait()

    async def _job(self, rec_id: int, slots: asyncio.Semaphore) -> bool:
        try:
            return await run_job(self.court, rec_id, self.owner)
        finally:
            slots.release()
            self.running.pop(rec_id, None)
            self.service.composite_wakeup.set()
