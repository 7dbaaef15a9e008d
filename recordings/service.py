"""The recording service of one server process: the recorder, its database side, and each
session's recording policy, which the live rooms are shown.

- ``await session_opened(session_id)``: load the session's policy (recording on/off,
  ``record_caucus``); done by itself when a first track of the session starts.
- ``set_active``: the host starts or stops recording (from the API the room's button calls);
  the recorder follows once the change is committed.
- ``await session_ended(session_id)``: close its segments, seal, queue the composite (and
  wake the composite worker: the court's ``composite`` signal).
- ``show(session_id)``: tell the live rooms (``rooms``, a ``recordings.ports.Rooms``) which
  of the session's places are recorded, so every participant's indicator is right; a
  recording that stops by itself (full disk) is shown to the session's hosts as an alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy import select

from recordings import paths, seal, store
from recordings.events import Alarm, Closed, Opened
from recordings.ports import Rooms
from recordings.recorder import Recorder
from recordings.store import RECORDER
from server.context import Context, Court
from server.models.recordings import CompositeStatus, Recording, SegmentStatus
from server.models.sessions import MediationSession
from server.tasks import Background

log = logging.getLogger(__name__)
SHUTDOWN_WAIT_S = 10


@dataclass
class Policy:
    active: bool = True
    record_caucus: bool = True
    alarm: str | None = None


class RecordingService:
    """``rooms`` is what the live rooms let recordings ask of them; None records nothing live
    (tools and tests that only seal, verify or render). Each change to the database is a
    unit of work of ``court``, as the recorder (``store.RECORDER``)."""

    def __init__(self, court: Court, *, rooms: Rooms | None = None, node: str = "") -> None:
        self.court = court
        self.settings = court.settings
        self.rooms = rooms
        self.policies: dict[int, Policy] = {}
        self.composite_wakeup = asyncio.Event()
        self._events: asyncio.Queue[Opened | Closed | Alarm] = asyncio.Queue()
        self._touched: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        # Policies loading in the background (``wants``), waited for at a stop: each holds a
        # database connection.
        self._loading = Background("loading a session's recording policy")
        self.recorder = Recorder(
            paths.root(court.settings), wants=self.wants, events=self._events.put_nowait, node=node
        )

    # --- policy --------------------------------------------------------------------------

    def wants(self, session_id: int, place: str) -> bool:
        if self._stopped:
            # A track that starts while the server stops (the rooms close after the service)
            # is not recorded, and loads nothing: a load started now would outlive the stop
            # and hold its database connection past the engine's disposal.
            return False
        policy = self.policies.get(session_id)
        if policy is None:
            # Unknown until session_opened: record (a missing record is the worse failure)
            # and load the real policy in the background.
            self.policies[session_id] = policy = Policy()
            self._loading.spawn(self.session_opened(session_id))
        if not policy.active:
            return False
        return place == "main" or policy.record_caucus

    def show(self, session_id: int, *, alarm: str | None = None) -> None:
        """Tell the live rooms which places of the session are recorded (an unknown policy
        is not loaded for this: it shows as the default until a track loads it)."""
        if self.rooms is None:
            return
        policy = self.policies.get(session_id, Policy())
        caucus = policy.active and policy.record_caucus
        self.rooms.set_recorded(session_id, main=policy.active, caucus=caucus, alarm=alarm)

    def _record(self, session_id: int, on: bool, reason: str) -> None:
        started = self.recorder.set_recording(session_id, on, reason)
        if self.rooms is not None:
            # A video file can only begin at a keyframe, and browsers send them rarely.
            for pid in {t.pid for t in started if t.kind == "video"}:
                self.rooms.request_keyframe(session_id, pid)

    async def session_opened(self, session_id: int) -> Policy:
        async with self.court.unit(RECORDER) as ctx:
            session = await ctx.db.get(MediationSession, session_id)
            if session is None:
                return self.policies.setdefault(session_id, Policy())
            rec = await store.recording_for(ctx.db, session_id)
            policy = Policy(rec.active, session.record_caucus, rec.alarm)
        self.policies[session_id] = policy
        self._record(session_id, policy.active, "stopped")
        self.show(session_id)
        return policy

    async def set_active(self, ctx: Context, rec: Recording, active: bool) -> None:
        """Host start/stop: the caller's unit of work carries the audit and timeline rows,
        and the recorder and the rooms follow once it has committed."""
        await store.set_active(ctx, rec, active)
        session_id = rec.session_id
        ctx.after_commit(lambda: self._follow(session_id, active))

    def _follow(self, session_id: int, active: bool) -> None:
        policy = self.policies.setdefault(session_id, Policy())
        policy.active, policy.alarm = active, None if active else policy.alarm
        self._record(session_id, active, "stopped")
        self.show(session_id)

    async def session_ended(self, session_id: int, *, unless_sealed: bool = False) -> None:
        """Close the session's segments, wait until their rows are written, seal, queue the
        composite. ``unless_sealed`` (the sweep): only a recording nobody has sealed, and
        only by one node, however many sweep at once."""
        self._record(session_id, False, "session_end")
        await self.drain()
        async with self.court.unit(RECORDER) as ctx:
            if unless_sealed and not await _take_unsealed(ctx, session_id):
                self._touched.discard(session_id)
                return
            rec = await store.recording_for(ctx.db, session_id)
            if any(s.status != SegmentStatus.PURGED for s in rec.segments):
                await seal.seal(ctx, rec)
                rec.composite_status = CompositeStatus.QUEUED
                rec.composite_progress = 0.0
                ctx.signal_after_commit("composite")
        self._touched.discard(session_id)

    async def sweep(self) -> list[int]:
        """Seal sessions that ended without telling us (ended while nobody was connected)."""
        async with self.court.unit(RECORDER) as ctx:
            rows = await ctx.db.scalars(
                select(Recording.session_id)
                .join(MediationSession, MediationSession.id == Recording.session_id)
                .where(
                    Recording.sealed_at.is_(None),
                    Recording.purged_at.is_(None),
                    MediationSession.status.in_(("ended", "cancelled")),
                    Recording.segments.any(),
                )
            )
            due = list(rows.all())
        for session_id in due:
            await self.session_ended(session_id, unless_sealed=True)
        return due

    async def drain(self) -> None:
        """Wait until the recorder's files and the database have caught up with the tap."""
        if self.recorder.running:
            await self.recorder.flush_barrier()
        await self._events.join()

    # --- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        self._stopped = False
        self.recorder.start()
        self._task = asyncio.get_running_loop().create_task(self._persist())

    async def stop(self, reason: str = "shutdown") -> None:
        await self._loading.stop(grace=SHUTDOWN_WAIT_S)
        await self.recorder.stop(reason)
        # Only now: until the recorder has closed its files as ``reason``, it still asks
        # ``wants``, and a no would close them as "stopped". A load a track started meanwhile
        # is ended with the rest.
        self._stopped = True
        await self._loading.stop(grace=SHUTDOWN_WAIT_S)
        try:
            # Bounded: a persist task that died must not hang the server's shutdown.
            await asyncio.wait_for(self._events.join(), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.error("recording events not persisted within %ss at shutdown", SHUTDOWN_WAIT_S)
        if self._task is not None:
            # Awaited: a persist pass cut short must give its connection back before the
            # database is disposed (after a join that timed out, one may be mid-write).
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Files closed by a shutdown are sealed now; the session may go on after a restart,
        # and its end seals again over every file.
        for session_id in sorted(self._touched):
            try:
                async with self.court.unit(RECORDER) as ctx:
                    await seal.seal(ctx, await store.recording_for(ctx.db, session_id))
            except Exception:
                log.exception("sealing session %s at shutdown", session_id)

    async def _persist(self) -> None:
        while True:
            event = await self._events.get()
            try:
                if isinstance(event, Alarm) and self._stopped_by_alarm(event.session_id):
                    # A full disk fails every open track of the session at once: the host
                    # hears of it, and the log and timeline record it, once per stop.
                    continue
                for attempt in range(3):
                    try:
                        await self._apply(event)
                        break
                    except Exception:
                        # A lost race or a busy database: try again; after that the file is
                        # still on disk and self-describing, and recovery registers it.
                        log.exception("recording bookkeeping failed for %s", event)
                        await asyncio.sleep(0.2 * (attempt + 1))
                if isinstance(event, Alarm):
                    self._on_alarm(event)
            finally:
                self._events.task_done()

    async def _apply(self, event: Opened | Closed | Alarm) -> None:
        async with self.court.unit(RECORDER) as ctx:
            if isinstance(event, Opened):
                self._touched.add(event.session_id)
                await store.segment_opened(ctx.db, event, event.info, self.recorder.node)
            elif isinstance(event, Closed):
                await store.segment_closed(ctx, event)
            else:
                await store.alarm_raised(ctx, event)

    def _stopped_by_alarm(self, session_id: int) -> bool:
        policy = self.policies.get(session_id)
        return policy is not None and not policy.active and policy.alarm is not None

    def _on_alarm(self, event: Alarm) -> None:
        policy = self.policies.setdefault(event.session_id, Policy())
        policy.active, policy.alarm = False, f"{event.reason}: {event.message}"
        self._record(event.session_id, False, event.reason)
        self.show(event.session_id, alarm=f"recording stopped ({event.reason}): {event.message}")


async def _take_unsealed(ctx: Context, session_id: int) -> bool:
    """Whether the session's recording is still unsealed, its row locked for this unit of work
    (PostgreSQL: a row another node is sealing is passed over; SQLite's write transaction is
    the only writer), so that exactly one sweeping node seals it."""
    query = select(Recording.id).where(
        Recording.session_id == session_id,
        Recording.sealed_at.is_(None),
        Recording.purged_at.is_(None),
    )
    if ctx.db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return await ctx.db.scalar(query) is not None
