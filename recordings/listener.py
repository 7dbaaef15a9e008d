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

from recordings.ports import EndedTrack, SessionEvent, Sink, StartedTrack
from recordings.service import RecordingService
from server.tasks import Background


class RecordingListener:
    def __init__(self, service: RecordingService) -> None:
        self.service = service
        # A failure (no room on the disk for the manifest, say) is logged; the jobs' sealing
        # sweep seals that recording later.
        self.work = Background("closing a recording (the sealing sweep retries it)")

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
        self.work.spawn(self.service.session_ended(event.session_id))

    async def close(self) -> None:
        """Wait for the recordings of sessions that ended to be closed and sealed."""
        await self.work.wait()
