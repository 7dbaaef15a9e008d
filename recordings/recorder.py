"""The recorder: every forwarded packet of a recorded track goes to a segment file.

Threading: the room listener (``recordings.listener``) calls ``on_track_start`` /
``on_track_end`` on the event loop, with the typed track events of the live rooms; for each
track ``on_track_start`` returns the sink the forwarding path calls per packet. That is the
hot path, so the sink (``TrackSink.push``) appends the packet to its track's own bounded
deque: no object, tuple or clock read per packet. Every ``BATCH_SECONDS`` a timer on the
loop takes each track's packets as a batch (``recordings.segments``), reassembles frames
(``recordings.rtp``) and muxes them (``recordings.writer``) into memory; the bytes, fsyncs
and closes go to one disk thread (``recordings.spool``), so the loop never waits for the
disk. The muxing is on the loop on purpose: measured, a writer thread of its own cost
the server more CPU in GIL hand-offs with the loop (a futex wake per hand-off, one per PyAV
call that drops the GIL) than the muxing itself, and a batch every 0.5 s holds the loop for
about three milliseconds at 6 x 720p. Events (a segment opened or closed, a full disk) reach
``events`` on the loop; ``Closed`` only once its file is complete on disk, ready to be sealed.

Order: control commands (start, end) go through one queue in order; a command about a track
first drains that track's packets, so what was forwarded before an ``end`` lands in
the segment it ends. A track that starts recording again gets a new deque.

Segments: one file per participant per track; a new segment when the track restarts
(reconnect), moves room (its end says ``moved``, or ``on_track_start`` again with another
room: the segment's end reason is ``room_move`` either way) or changes resolution (a VP8
keyframe with other dimensions). Video segments start at a keyframe: frames before the
first one cannot be decoded by anyone and are counted, not written.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recordings.events import Alarm, Closed, Key, Opened, Track, TrackSink
from recordings.ports import EndedTrack, Sink, StartedTrack, identity, label
from recordings.segments import MIN_FREE_BYTES, Segments

log = logging.getLogger(__name__)
# How long packets wait for the writer: with the writer's 250 ms clusters a frame's bytes
# reach the kernel at most ~0.76 s after the frame (what a SIGKILL may lose, first frame of a
# segment included: bench/recording_cut.py), long enough that a batch holds many frames of
# every track. Measured with bench/media.py --record at 3 x 640x480: 0.5 s costs
# the recorder a third less CPU than 0.2 s (fewer timer wake-ups and disk-thread hand-offs);
# 1.0 s saves nothing more.
BATCH_SECONDS = 0.5


class Recorder:
    """Records the tracks of the live rooms. ``wants`` says whether a (session, room) is
    being recorded now; ``events`` receives ``Opened``/``Closed``/``Alarm`` on the event
    loop."""

    def __init__(
        self,
        root: Path,
        *,
        wants: Callable[[int, str], bool],
        events: Callable[[Opened | Closed | Alarm], None],
        min_free_bytes: int = MIN_FREE_BYTES,
        node: str = "",
    ) -> None:
        self.wants = wants
        self.node = node
        self.segments = Segments(root, events=events, min_free_bytes=min_free_bytes, node=node)
        self.tracks: dict[Key, Track] = {}
        self.queue: collections.deque[tuple[Any, ...]] = collections.deque()  # commands
        self.overflow = 0
        self.batch_cpu_seconds = 0.0  # event-loop CPU spent in batches (not in on_media)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopped_sessions: set[int] = set()

    @property
    def packets(self) -> int:
        """Packets taken from the tracks' deques so far."""
        return self.segments.packets

    @property
    def recorded_frames(self) -> int:
        """Frames written into segments so far."""
        return self.segments.recorded_frames

    # --- the tracks (event loop) -------------------------------------------------------

    def on_track_start(self, event: StartedTrack) -> Sink:
        """A track is forwarded in a room from now on: returns where its packets go."""
        who = event.participant
        key = (event.session_id, who.pid, event.source)
        old = self.tracks.get(key)
        reason = "start"
        if old is not None:
            # Started again without an end (a new room): the old sink takes nothing more.
            reason = "room_move" if old.room != event.room else "restart"
            old.sink.packets = None
            self._command("end", key, reason)
        recording = (
            event.kind in ("video", "audio")
            and event.session_id not in self._stopped_sessions
            and self.wants(event.session_id, event.room)
        )
        track = Track(
            key,
            event.session_id,
            event.room,
            event.kind,
            label(event.source),
            event.codec.lower(),
            recording,
            TrackSink(self),
            reason,
            {"identity": identity(who), "participant": who.name},
        )
        self.tracks[key] = track
        self._begin(track)
        return track.sink.push

    def on_track_end(self, event: EndedTrack) -> None:
        key = (event.session_id, event.participant.pid, event.source)
        track = self.tracks.pop(key, None)
        if track is not None:
            track.sink.packets = None
            # A segment closed because its participant changed rooms says so: the record
            # must not read as if they had turned their camera off.
            reason = "room_move" if event.reason == "moved" else "track_end"
            self._command("end", key, reason)

    def _begin(self, track: Track) -> None:
        """(Re)start ``track``: a fresh deque for its packets if it is recorded."""
        sink: collections.deque[Any] | None = collections.deque() if track.recording else None
        track.sink.packets = sink
        self._command("start", track.key, (track, sink))

    # --- control (event loop) ----------------------------------------------------------

    def set_recording(self, session_id: int, on: bool, reason: str) -> list[Track]:
        """Start or stop writing every track of a session (host action, end, alarm).
        Returns the tracks that start being written: their video waits for a keyframe."""
        if on:
            self._stopped_sessions.discard(session_id)
        else:
            self._stopped_sessions.add(session_id)
        started = []
        for track in self.tracks.values():
            if track.session_id != session_id:
                continue
            want = on and self.wants(session_id, track.room)
            if want != track.recording:
                track.recording = want
                if want:
                    self._begin(track)
                    started.append(track)
                else:
                    track.sink.packets = None
                    self._command("end", track.key, reason)
        return started

    def _command(self, op: str, key: Key, arg: Any) -> None:
        self.queue.append((op, key, arg))

    def flush_barrier(self) -> asyncio.Future[None]:
        """A future resolved once everything queued so far is written and on disk."""
        disk = self.segments.disk
        assert self._loop is not None and disk is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._step()
        disk.call(lambda: _resolve(fut))
        return fut

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self.segments.disk is not None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.segments.start(self._loop)
        self._timer = self._loop.call_later(BATCH_SECONDS, self._tick)

    async def stop(self, reason: str = "shutdown") -> None:
        """Close every open segment (with ``reason``: ``shutdown``, or ``handover`` when a
        cluster node stops and its rooms go on on another node) and end the disk thread."""
        for key, track in self.tracks.items():
            track.sink.packets = None
            self._command("end", key, reason)
        self.tracks.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.segments.disk is not None:
            self._step()
            await self.segments.stop()  # the segments' Closed events come before this returns

    # --- batches (event loop) ----------------------------------------------------------

    def _tick(self) -> None:
        cpu = time.thread_time()
        try:
            self._step()
        except Exception:  # never let one bad batch end recording for everyone
            log.exception("recording batch failed")
        self.batch_cpu_seconds += time.thread_time() - cpu
        if self._loop is not None and self._timer is not None:
            self._timer = self._loop.call_later(BATCH_SECONDS, self._tick)

    def _step(self) -> None:
        """One batch: the commands in order, then every track's packets, then syncs."""
        segments = self.segments
        while self.queue:
            op, key, arg = self.queue.popleft()
            segments.drain_track(key)  # what the track forwarded before this command first
            if op == "start":
                segments.close(key, "restart")
                track, sink = arg
                if sink is not None:
                    segments.begin(track, sink)
            elif op == "end":
                segments.close(key, arg)
        segments.batch()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
