"""The bridge between the recorder and the live-sessions hub (``signaling.hub``), using only
the hub's public surface, so signaling needs no edit for recording:

- the recorder is added as the SFU's tap (``sfu.add_tap``);
- who a peer is comes from the hub's connections (peer ids are ``s<session>-<pid>``);
- the hub's ``on_end`` callback is chained: when a session ends, its recording is closed,
  sealed and its composite queued;
- every participant is sent the reserved ``recording`` message (``active`` for their room:
  the main room when recording is on, a caucus room only if the policy records caucus rooms,
  the lobby never), whenever tracks start or stop or the host starts or stops recording;
- a recording that stops by itself (full disk) is announced to the session's hosts with an
  ``error`` message, code ``recording_stopped``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

from recordings.service import RecordingService

log = logging.getLogger(__name__)
_PEER = re.compile(r"^s(\d+)-(.+)$")


class HubBridge:
    def __init__(self, service: RecordingService, hub: Any) -> None:
        self.service = service
        self.hub = hub
        self.tasks: set[asyncio.Task[None]] = set()
        recorder = service.recorder

        bridge = self

        class _Tap:
            # on_media is the recorder's own bound method: nothing added on the hot path.
            on_media = recorder.on_media

            def on_track_start(
                self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
            ) -> None:
                recorder.on_track_start(peer_id, room, track_id, kind, label, codec)
                bridge.announce_room(room)

            def on_track_end(self, peer_id: str, track_id: str) -> None:
                recorder.on_track_end(peer_id, track_id)

        self.tap = _Tap()
        service.peer_lookups.append(self.who)
        service.change_listeners.append(self.announce)
        service.alarm_listeners.append(self.alarm)
        previous = hub.on_end

        async def on_end(session_id: int, by: Any) -> None:
            if previous is not None:
                await previous(session_id, by)
            self._spawn(service.session_ended(session_id))

        hub.on_end = on_end
        # Everyone learns whether their place is recorded as they arrive in it, even someone
        # who publishes nothing (no track of theirs would announce it).
        previous_place = hub.on_place

        def on_place(session_id: int) -> None:
            if previous_place is not None:
                previous_place(session_id)
            self.announce(session_id)

        hub.on_place = on_place
        hub.sfu.add_tap(self.tap)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # E.g. no room on the disk for the manifest: the jobs' sweep seals it later.
            log.error("closing a recording failed; the sealing sweep retries", exc_info=exc)

    def who(self, peer_id: str) -> dict[str, str] | None:
        match = _PEER.match(peer_id)
        live = self.hub.live.get(int(match.group(1))) if match else None
        conn = live.conns.get(match.group(2)) if live is not None and match else None
        if conn is None:
            return None
        return {"identity": str(conn.identity), "participant": str(conn.name)}

    def announce_room(self, room: str) -> None:
        where = self.service.resolve(room)
        if where is not None:
            self.announce(where[0])

    def announce(self, session_id: int) -> None:
        from signaling import protocol as p

        live = self.hub.live.get(session_id)
        if live is None:
            return
        recorded = []
        for pid, conn in list(live.conns.items()):
            member = live.room.members.get(pid)
            place = member.place if member is not None else None
            active = place is not None and self.service.wants_quietly(session_id, place)
            conn.send(p.Recording(active=active))
            if active:
                recorded.append(conn.peer_id)
        # A video segment can only begin at a keyframe (rate-limited, so repeats are cheap).
        self.hub.sfu.request_keyframes(recorded)

    def alarm(self, session_id: int, reason: str, message: str) -> None:
        from signaling import protocol as p

        live = self.hub.live.get(session_id)
        if live is None:
            return
        for pid, conn in list(live.conns.items()):
            member = live.room.members.get(pid)
            if member is not None and member.role == "host":
                conn.send(
                    p.Error(
                        code="recording_stopped",
                        message=f"recording stopped ({reason}): {message}",
                    )
                )

    async def close(self) -> None:
        with contextlib.suppress(ValueError, AttributeError):
            self.hub.sfu.remove_tap(self.tap)
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
