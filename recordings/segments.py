"""The recorder's batch side: each recorded track's packets, as frames, into segment files.

Every batch (on the event loop, see ``recordings.recorder``) ``drain`` takes what a track
forwarded since the last one, reassembles frames (``recordings.rtp``), opens a segment at the
first keyframe (and a new one when a keyframe brings other dimensions) and muxes the frames
(``recordings.writer``) into memory; the bytes, fsyncs and closes go to the disk thread
(``recordings.spool``). A disk that fails, fills up or falls behind stops the session's
recording with an ``Alarm``; ``Closed`` reaches ``events`` only once its file is complete on
disk, ready to be sealed.
"""

from __future__ import annotations

import asyncio
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
from recordings.events import Alarm, Closed, Key, LiveTrack, Opened, Track, is_full, wall_time
from recordings.rtp import Frame, assembler_for
from recordings.spool import DiskWriter
from recordings.writer import SYNC_SECONDS, SegmentWriter

log = logging.getLogger(__name__)
MIN_FREE_BYTES = 64 * 1024 * 1024
# What may wait for the disk thread before recording stops with an alarm (a stalled disk).
MAX_BACKLOG_BYTES = 64 * 1024 * 1024


class Segments:
    """The tracks being written (``live``), their open segments and the disk thread."""

    def __init__(
        self,
        root: Path,
        *,
        events: Callable[[Opened | Closed | Alarm], None],
        min_free_bytes: int = MIN_FREE_BYTES,
        node: str = "",
    ) -> None:
        self.root = root
        self.events = events
        self.min_free_bytes = min_free_bytes
        self.node = node  # written into each file's header: recovery knows whose it is
        self.live: dict[Key, LiveTrack] = {}
        self.recorded_frames = 0
        self.packets = 0  # taken from the tap's deques
        self.loop: asyncio.AbstractEventLoop | None = None
        self.disk: DiskWriter | None = None
        self._next_check = 0.0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.disk = DiskWriter(loop)

    async def stop(self) -> None:
        """End the disk thread (the segments' Closed events come before this returns)."""
        if self.disk is not None:
            await self.disk.stop()
            self.disk = None

    def begin(self, track: Track, sink: Any) -> None:
        """Write ``track`` from now on, from the packets its ``sink`` deque collects."""
        state = LiveTrack(track, assembler_for(track.kind), sink)
        state.pending_reason = track.start_reason
        self.live[track.key] = state

    def drain_track(self, key: Key) -> None:
        """What the track forwarded so far, before a command about it takes effect."""
        if key in self.live:
            self._drain(self.live[key])

    def batch(self) -> None:
        """Every track's packets, then (now and then) syncs, the free space and the backlog."""
        live = self.live
        for state in list(live.values()):
            self._drain(state)
        now = time.monotonic()
        if now >= self._next_check and live:
            # Every file at once: one fsync commits the journal for all of them, so the
            # ones right after it find little left to do.
            self._next_check = now + SYNC_SECONDS
            for state in list(live.values()):
                self._guard(state, lambda w: w.maybe_sync(force=True))
            self._check_disk()
        if self.disk is not None:
            if self.disk.backlog > MAX_BACKLOG_BYTES:
                backlog = self.disk.backlog
                self._stop_all(OSError(errno.EIO, f"disk too slow: {backlog} bytes behind"))
            self.disk.kick()

    def _emit(self, event: Any) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon(self.events, event)

    def _drain(self, state: LiveTrack) -> None:
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
                    self._write(state, batch)
                    batch = []
                    self.close(track.key, "resolution", keep=True)
                    state.pending_reason = "resolution"
            if state.writer is None:
                at = wall_time(packets, frame, 90000 if track.kind == "video" else 48000)
                self._open(state, frame.width, frame.height, at)
                if state.writer is None:
                    return
            batch.append(frame)
        self._write(state, batch)

    def _write(self, state: LiveTrack, batch: list[Frame]) -> None:
        writer = state.writer
        if writer is None or not batch:
            return
        before = writer.frames
        self._guard(state, lambda w: w.write_many(batch))
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
            "node": self.node,
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
                disk=self.disk,
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
        state: LiveTrack,
        fn: Callable[[SegmentWriter], None],
    ) -> None:
        if state.writer is None or state.writer.closed:
            return
        try:
            fn(state.writer)
        except Exception as exc:
            self._alarm(state.track.session_id, exc)
            self.close(state.track.key, "disk_full" if is_full(exc) else "write_error", failed=True)

    def close(
        self,
        key: Key,
        reason: str,
        *,
        keep: bool = False,
        failed: bool = False,
    ) -> None:
        """Close the track's segment with ``reason``; with ``keep`` the track goes on being
        written (into a new segment), otherwise it is no longer written."""
        state = self.live.get(key) if keep else self.live.pop(key, None)
        if state is None or state.writer is None:
            return
        if not keep and not failed:
            # The track is going: frames still held behind a lost packet that will never
            # come are written now instead of lost with the assembler.
            self._write(state, state.assembler.flush())
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

    def _check_disk(self) -> None:
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return
        if free < self.min_free_bytes:
            self._stop_all(OSError(errno.ENOSPC, f"only {free} bytes free"))

    def _stop_all(self, exc: OSError) -> None:
        reason = "disk_full" if is_full(exc) else "write_error"
        for session_id in {s.track.session_id for s in self.live.values() if s.writer}:
            self._alarm(session_id, exc)
            for key in [k for k, s in self.live.items() if s.track.session_id == session_id]:
                self.close(key, reason, failed=True)

    def _alarm(self, session_id: int, exc: BaseException) -> None:
        reason = "disk_full" if is_full(exc) else "write_error"
        log.error("recording of session %s stopped: %s", session_id, exc)
        self._emit(Alarm(session_id, reason, str(exc)))
