"""The recording service as a listener of the live rooms (a ``signaling.events.RoomListener``,
matched by shape: recordings never import signaling; ``recordings.ports`` says what is read).

- a track starting in a room goes to the recorder, which gives the sink for its packets; a
  track ending closes its segment (as a room move when its participant moved);
- whenever someone arrives somewhere, the rooms are shown which places are recorded (the
  main room when recording is on, caucus rooms only if the policy records them, the lobby
  never), so even someone who publishes nothing sees the indicator;
- a session that ends has its recording closed, sealed and its composite queued, in a task
  of this listener's own: the room's end does not wait for the disk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from recordings.ports import EndedTrack, SessionEvent, Sink, StartedTrack
from recordings.service import RecordingService

log = logging.getLogger(__name__)


class RecordingListener:
    def __init__(self, service: RecordingService) -> None:
        self.service = service
        self.tasks: set[asyncio.Task[None]] = set()

    def on_track_started(self, event: StartedTrack) -> Sink:
        return self.service.recorder.on_track_start(event)

    def on_track_ended(self, event: EndedTrack) -> None:
        self.service.recorder.on_track_end(event)

    def on_place_changed(self, event: SessionEvent) -> None:
        self.service.show(event.session_id)

    def on_document_shown(self, event: SessionEvent) -> None:
        """A document shown to a room is the case file's business, not the recording's."""

    def on_guest_caucus(self, event: SessionEvent) -> None:
        """Who may enter caucus rooms shows in the recording as where they are recorded."""

    async def on_session_ended(self, event: SessionEvent) -> None:
        self._spawn(self.service.session_ended(event.session_id))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # E.g. no room on the disk for the manifest: the jobs' sweep seals it later.
            log.error("closing a recording failed; the sealing sweep retries", exc_info=exc)

    async def close(self) -> None:
        """Wait for the recordings of sessions that ended to be closed and sealed."""
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
