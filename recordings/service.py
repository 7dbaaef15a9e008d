"""The recording service of one server process: the SFU tap, its database side, and the
hooks the signaling hub calls.

Hooks for ``signaling.hub`` (all cheap, call them on the event loop):

- ``bind_room(room, session_id, place)``: the SFU's room id belongs to this session, place
  ``"main"`` or ``"caucus-<x>"``. Without it, a room id shaped ``"<session_id>:<place>"`` is
  understood.
- ``bind_peer(peer_id, identity, name)``: who a peer is (``"user:3"``/``"party:5"``, a name),
  so segment rows and manifests say who is in each file.
- ``await session_opened(session_id)``: load the session's policy (recording on/off,
  ``record_caucus``) before anyone publishes.
- ``await session_ended(session_id)``: close its segments, seal, queue the composite.
- ``status(session_id)``: ``{"recording": bool, "record_caucus": bool, "alarm": str|None}``
  for the room's recording indicator and the pre-join notice.
- ``alarm_listeners``: callables ``(session_id, reason, message)`` run when recording of a
  session stops by itself (full disk); the hub tells the host.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from recordings import paths, seal, store
from recordings.recorder import Alarm, Closed, Opened, Recorder
from server.models.recordings import CompositeStatus, Recording, SegmentStatus
from server.models.sessions import MediationSession
from server.settings import Settings

log = logging.getLogger(__name__)
SHUTDOWN_WAIT_S = 10
# The hub's room keys are "s<session_id>:<place>"; "<session_id>:<place>" works too.
_ROOM = re.compile(r"^(?:s|session[-_:/]?)?(\d+)[:/](.+)$")


@dataclass
class Policy:
    active: bool = True
    record_caucus: bool = True
    alarm: str | None = None


class RecordingService:
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.rooms: dict[str, tuple[int, str]] = {}
        self.peers: dict[str, dict[str, str]] = {}
        self.peer_lookups: list[Callable[[str], dict[str, str] | None]] = []
        self.policies: dict[int, Policy] = {}
        self.alarm_listeners: list[Callable[[int, str, str], None]] = []
        # Called with a session id whenever what its rooms should show may have changed.
        self.change_listeners: list[Callable[[int], None]] = []
        self.composite_wakeup = asyncio.Event()
        self._events: asyncio.Queue[Opened | Closed | Alarm] = asyncio.Queue()
        self._touched: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.recorder = Recorder(
            paths.root(settings),
            resolve=self.resolve,
            wants=self.wants,
            events=self._events.put_nowait,
            describe=self.describe,
        )

    # --- hooks -------------------------------------------------------------------------

    def bind_room(self, room: str, session_id: int, place: str) -> None:
        self.rooms[room] = (session_id, place)

    def bind_peer(self, peer_id: str, identity: str, name: str) -> None:
        self.peers[peer_id] = {"identity": identity, "participant": name}

    def describe(self, peer_id: str) -> dict[str, str]:
        """Who a peer is: bound by ``bind_peer``, else asked of ``peer_lookups``."""
        if peer_id in self.peers:
            return self.peers[peer_id]
        for lookup in self.peer_lookups:
            found = lookup(peer_id)
            if found:
                return found
        return {}

    def resolve(self, room: str) -> tuple[int, str] | None:
        if room in self.rooms:
            return self.rooms[room]
        match = _ROOM.match(room)
        return (int(match.group(1)), match.group(2)) if match else None

    def wants(self, session_id: int, place: str) -> bool:
        policy = self.policies.get(session_id)
        if policy is None:
            # Unknown until session_opened: record (a missing record is the worse failure)
            # and load the real policy in the background.
            self.policies[session_id] = policy = Policy()
            asyncio.get_running_loop().create_task(self.session_opened(session_id))
        if not policy.active:
            return False
        return place == "main" or policy.record_caucus

    def wants_quietly(self, session_id: int, place: str) -> bool:
        """``wants`` without loading an unknown session's policy (for announcements)."""
        policy = self.policies.get(session_id, Policy())
        return policy.active and (place == "main" or policy.record_caucus)

    def status(self, session_id: int) -> dict[str, object]:
        policy = self.policies.get(session_id, Policy())
        return {
            "recording": policy.active,
            "record_caucus": policy.record_caucus,
            "alarm": policy.alarm,
        }

    async def session_opened(self, session_id: int) -> Policy:
        async with self.sessionmaker() as db:
            session = await db.get(MediationSession, session_id)
            if session is None:
                return self.policies.setdefault(session_id, Policy())
            rec = await store.recording_for(db, session_id)
            policy = Policy(rec.active, session.record_caucus, rec.alarm)
            await db.commit()
        self.policies[session_id] = policy
        self.recorder.set_recording(session_id, policy.active, "stopped")
        self.changed(session_id)
        return policy

    def changed(self, session_id: int) -> None:
        for listener in self.change_listeners:
            try:
                listener(session_id)
            except Exception:
                log.exception("recording change listener failed")

    async def set_active(
        self, db: AsyncSession, rec: Recording, active: bool, *, actor_id: int | None, actor: str
    ) -> None:
        """Host start/stop; the caller's transaction carries the audit and timeline rows."""
        await store.set_active(db, rec, active, actor_id=actor_id, actor=actor)
        policy = self.policies.setdefault(rec.session_id, Policy())
        policy.active, policy.alarm = active, None if active else policy.alarm
        self.recorder.set_recording(rec.session_id, active, "stopped")
        self.changed(rec.session_id)

    async def session_ended(self, session_id: int) -> None:
        """Close the session's segments, wait until their rows are written, seal, queue the
        composite."""
        self.recorder.set_recording(session_id, False, "session_end")
        await self.drain()
        async with self.sessionmaker() as db:
            rec = await store.recording_for(db, session_id)
            if any(s.status != SegmentStatus.PURGED for s in rec.segments):
                await seal.seal(db, self.settings, rec)
                rec.composite_status = CompositeStatus.QUEUED
                rec.composite_progress = 0.0
            await db.commit()
        self._touched.discard(session_id)
        self.composite_wakeup.set()

    async def sweep(self) -> list[int]:
        """Seal sessions that ended without telling us (ended while nobody was connected)."""
        async with self.sessionmaker() as db:
            rows = await db.scalars(
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
            await self.session_ended(session_id)
        return due

    async def drain(self) -> None:
        """Wait until the recorder's files and the database have caught up with the tap."""
        if self.recorder.running:
            await self.recorder.flush_barrier()
        await self._events.join()

    # --- lifetime ----------------------------------------------------------------------

    async def start(self) -> None:
        self.recorder.start()
        self._task = asyncio.get_running_loop().create_task(self._persist())

    async def stop(self) -> None:
        await self.recorder.stop()
        try:
            # Bounded: a persist task that died must not hang the server's shutdown.
            await asyncio.wait_for(self._events.join(), SHUTDOWN_WAIT_S)
        except TimeoutError:
            log.error("recording events not persisted within %ss at shutdown", SHUTDOWN_WAIT_S)
        if self._task is not None:
            self._task.cancel()
        # Files closed by a shutdown are sealed now; the session may go on after a restart,
        # and its end seals again over every file.
        for session_id in sorted(self._touched):
            try:
                async with self.sessionmaker() as db:
                    await seal.seal(db, self.settings, await store.recording_for(db, session_id))
                    await db.commit()
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
        async with self.sessionmaker() as db:
            if isinstance(event, Opened):
                self._touched.add(event.session_id)
                await store.segment_opened(db, event, event.info)
            elif isinstance(event, Closed):
                await store.segment_closed(db, event)
            else:
                await store.alarm_raised(db, event)
            await db.commit()

    def _stopped_by_alarm(self, session_id: int) -> bool:
        policy = self.policies.get(session_id)
        return policy is not None and not policy.active and policy.alarm is not None

    def _on_alarm(self, event: Alarm) -> None:
        policy = self.policies.setdefault(event.session_id, Policy())
        policy.active, policy.alarm = False, f"{event.reason}: {event.message}"
        self.recorder.set_recording(event.session_id, False, event.reason)
        self.changed(event.session_id)
        for listener in self.alarm_listeners:
            try:
                listener(event.session_id, event.reason, event.message)
            except Exception:
                log.exception("recording alarm listener failed")
