"""The recorder: every forwarded packet of a recorded track goes to a segment file.

Threading: the room listener (``recordings.listener``) calls ``on_track_start`` /
``on_track_end`` on the event loop, with the typed track events of the live rooms; for each
track ``on_track_start`` returns the sink the forwarding path calls per packet. That is the
hot path, so the sink (``TrackSink.push``) appends the packet to its track's own bounded
deque: no object, tuple or clock read per packet. Every
``BATCH_SECONDS`` a timer on the loop takes each track's packets as a batch, reassembles
frames (``recordings.rtp``) and muxes them (``recordings.writer``) into memory; the bytes,
fsyncs and closes go to one disk thread (``recordings.spool``), so the loop never waits for
the disk. The muxing is on the loop on purpose: measured, a writer thread of its own cost
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
import errno
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recordings import paths
from recordings.events import (
    Alarm,
    Closed,
    Key,
    LiveTrack,
    Opened,
    Track,
    TrackSink,
    is_full,
    wall_time,
)
from recordings.ports import EndedTrack, Sink, StartedTrack, identity, label
from recordings.rtp import Frame, assembler_for
from recordings.spool import DiskWriter
from recordings.writer import SYNC_SECONDS, SegmentWriter

__all__ = ["Alarm", "Closed", "Opened", "Recorder", "Track"]
Live = dict[Key, LiveTrack]  # the batch side's tracks being written

log = logging.getLogger(__name__)
MIN_FREE_BYTES = 64 * 1024 * 1024
# How long packets wait for the writer: with the writer's 250 ms clusters a frame's bytes
# reach the kernel at most ~0.76 s after the frame (what a SIGKILL may lose, first frame of a
# segment included: bench/recording_cut.py), long enough that a batch holds many frames of
# every track. Measured with bench/media.py --record at 3 x 640x480: 0.5 s costs
# the recorder a third less CPU than 0.2 s (fewer timer wake-ups and disk-thread hand-offs);
# 1.0 s saves nothing more.
BATCH_SECONDS = 0.5
# What may wait for the disk thread before recording stops with an alarm (a stalled disk).
MAX_BACKLOG_BYTES = 64 * 1024 * 1024


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
    ) -> None:
        self.root = root
        self.wants, self.events = wants, events
        self.min_free_bytes = min_free_bytes
        self.tracks: dict[Key, Track] = {}
        self.queue: collections.deque[tuple[Any, ...]] = collections.deque()  # commands
        self.overflow = 0
        self.recorded_frames = 0
        self.packets = 0  # taken from the tap's deques
        self.batch_cpu_seconds = 0.0  # event-loop CPU spent in batches (not in on_media)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._disk: DiskWriter | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._live: Live = {}
        self._stopped_sessions: set[int] = set()
        self._next_check = 0.0

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
        assert self._loop is not None and self._disk is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._step()
        self._disk.call(lambda: _resolve(fut))
        return fut

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._disk is not None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._disk = DiskWriter(self._loop)
        self._timer = self._loop.call_later(BATCH_SECONDS, self._tick)

    async def stop(self) -> None:
        """Close every open segment (reason ``shutdown``) and end the disk thread."""
        for key, track in self.tracks.items():
            track.sink.packets = None
            self._command("end", key, "shutdown")
        self.tracks.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._disk is not None:
            self._step()
            await self._disk.stop()  # the segments' Closed events come before this returns
            self._disk = None

    # --- batches (event loop) ----------------------------------------------------------

    def _emit(self, event: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon(self.events, event)

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
        live = self._live
        while self.queue:
            op, key, arg = self.queue.popleft()
            if key in live:  # what the track forwarded before this command comes first
                self._drain(live, live[key])
            if op == "start":
                self._close(live, key, "restart")
                track, sink = arg
                if sink is not None:
                    state = LiveTrack(track, assembler_for(track.kind), sink)
                    state.pending_reason = track.start_reason
                    live[key] = state
            elif op == "end":
                self._close(live, key, arg)
        for state in list(live.values()):
            self._drain(live, state)
        now = time.monotonic()
        if now >= self._next_check and live:
            # Every file at once: one fsync commits the journal for all of them, so the
            # ones right after it find little left to do.
            self._next_check = now + SYNC_SECONDS
            for state in list(live.values()):
                self._guard(live, state, lambda w: w.maybe_sync(force=True))
            self._check_disk(live)
        if self._disk is not None:
            if self._disk.backlog > MAX_BACKLOG_BYTES:
                backlog = self._disk.backlog
                self._stop_all(live, OSError(errno.EIO, f"disk too slow: {backlog} bytes behind"))
            self._disk.kick()

    def _drain(self, live: Live, state: LiveTrack) -> None:
        """Write what ``state``'s track forwarded since the last batch."""
        sink = state.sink
        count = len(sink)
        if not count:
            return
        self.packets += count
        pop = sink.popleft
        packets = [pop() for _ in range(count)]
        try:
            frames = state.assembler.take(packets)
        except (ValueError, AttributeError, TypeError):
            return
        if not frames or state.dead:
            return
        track = state.track
        batch: list[Frame] = []
        for frame in frames:
            if track.kind == "video":
                if state.writer is None and not frame.keyframe:
                    state.skipped += 1
                    continue
                writer = state.writer
                if (
                    writer is not None
                    and frame.keyframe
                    and (frame.width, frame.height) != (writer.width, writer.height)
                ):
                    self._write(live, state, batch)
                    batch = []
                    self._close(live, track.key, "resolution", keep=True)
                    state.pending_reason = "resolution"
            if state.writer is None:
                at = wall_time(packets, frame, 90000 if track.kind == "video" else 48000)
                self._open(state, frame.width, frame.height, at)
                if state.writer is None:
                    return
            batch.append(frame)
        self._write(live, state, batch)

    def _write(self, live: Live, state: LiveTrack, batch: list[Frame]) -> None:
        writer = state.writer
        if writer is None or not batch:
            return
        before = writer.frames
        self._guard(live, state, lambda w: w.write_many(batch))
        self.recorded_frames += writer.frames - before

    def _open(self, state: LiveTrack, width: int, height: int, at: float) -> None:
        track = state.track
        uid = uuid.uuid4().hex
        relpath = paths.segment_relpath(track.session_id, uid)
        started = datetime.fromtimestamp(at, UTC)
        info = track.info
        tags = {
            "segment": uid,
            "session": str(track.session_id),
            "peer": track.pid,
            "room": track.room,
            "kind": track.kind,
            "label": track.label,
            "codec": track.codec,
            "started_at": started.isoformat(),
            "start_reason": state.pending_reason,
            **{k: v for k, v in info.items() if k in ("identity", "participant")},
        }
        try:
            free = shutil.disk_usage(self.root).free
            if free < self.min_free_bytes:
                raise OSError(errno.ENOSPC, f"only {free} bytes free for recordings")
            state.writer = SegmentWriter(
                self.root / relpath,
                track.kind,
                started_at=started,
                width=width,
                height=height,
                tags=tags,
                disk=self._disk,
            )
        except Exception as exc:
            state.dead = True
            self._alarm(track.session_id, exc)
            return
        state.uid = uid
        state.lost_base = state.assembler.lost_frames
        self._emit(
            Opened(
                uid,
                track.session_id,
                track.pid,
                track.room,
                track.kind,
                track.label,
                track.codec,
                relpath,
                started,
                width,
                height,
                f"start: {state.pending_reason}",
                dict(info),
            )
        )

    def _guard(
        self,
        live: Live,
        state: LiveTrack,
        fn: Callable[[SegmentWriter], None],
    ) -> None:
        if state.writer is None or state.writer.closed:
            return
        try:
            fn(state.writer)
        except Exception as exc:
            self._alarm(state.track.session_id, exc)
            self._close(
                live, state.track.key, "disk_full" if is_full(exc) else "write_error", failed=True
            )

    def _close(
        self,
        live: Live,
        key: Key,
        reason: str,
        *,
        keep: bool = False,
        failed: bool = False,
    ) -> None:
        state = live.get(key) if keep else live.pop(key, None)
        if state is None or state.writer is None:
            return
        if not keep and not failed:
            # The track is going: frames still held behind a lost packet that will never
            # come are written now instead of lost with the assembler.
            self._write(live, state, state.assembler.flush())
        writer, state.writer = state.writer, None
        closed = Closed(
            state.uid,
            state.track.session_id,
            writer.stats(),
            reason,
            failed,
            state.assembler.lost_frames - state.lost_base,
            state.skipped,
        )
        state.skipped = 0

        def done(error: OSError | None) -> None:
            # on the loop, once the file is complete on disk: only then may it be sealed
            if error is not None and not closed.failed:
                closed.failed = True
                self._alarm(closed.session_id, error)
            self.events(closed)

        try:
            closed.stats = writer.close(done)
        except Exception as exc:
            log.exception("closing segment %s", state.uid)
            if not closed.failed:
                closed.failed = True
                self._alarm(closed.session_id, exc)

    def _check_disk(self, live: Live) -> None:
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return
        if free < self.min_free_bytes:
            self._stop_all(live, OSError(errno.ENOSPC, f"only {free} bytes free"))

    def _stop_all(self, live: Live, exc: OSError) -> None:
        reason = "disk_full" if is_full(exc) else "write_error"
        for session_id in {s.track.session_id for s in live.values() if s.writer}:
            self._alarm(session_id, exc)
            for key in [k for k, s in live.items() if s.track.session_id == session_id]:
                self._close(live, key, reason, failed=True)

    def _alarm(self, session_id: int, exc: BaseException) -> None:
        reason = "disk_full" if is_full(exc) else "write_error"
        log.error("recording of session %s stopped: %s", session_id, exc)
        self._emit(Alarm(session_id, reason, str(exc)))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
