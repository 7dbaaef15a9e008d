"""The SFU's media tap: every forwarded packet of a recorded track goes to a segment file.

Threading: the SFU calls ``on_track_start`` / ``on_media`` / ``on_track_end`` on the event
loop. ``on_media`` is on the forwarding hot path, so it only appends a reference to a
bounded deque; one writer thread reassembles frames (``recordings.rtp``), muxes them
(``recordings.writer``) and fsyncs. What the loop must learn (a segment opened or closed, a
full disk) comes back through ``loop.call_soon_threadsafe`` to ``events`` callbacks.

Segments: one file per participant per track; a new segment when the track restarts
(reconnect), moves room (``on_track_start`` again with another room) or changes resolution
(a VP8 keyframe with other dimensions). Video segments start at a keyframe: frames before the
first one cannot be decoded by anyone and are counted, not written.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recordings import paths
from recordings.rtp import OpusAssembler, Vp8Assembler, assembler_for, view_of
from recordings.writer import SegmentStats, SegmentWriter

log = logging.getLogger(__name__)
QUEUE_LIMIT = 20000  # about 20 s of a 720p call's packets: a stalled disk, not normal load
MIN_FREE_BYTES = 64 * 1024 * 1024
IDLE_WAIT = 0.02


@dataclass
class Track:
    """What the loop knows of one forwarded track (set in ``on_track_start``)."""

    key: tuple[str, str]
    session_id: int
    room: str
    kind: str
    label: str
    codec: str
    recording: bool
    start_reason: str = "start"
    info: dict[str, str] = field(default_factory=dict)  # identity, participant


@dataclass
class Opened:
    uid: str
    session_id: int
    peer_id: str
    room: str
    kind: str
    label: str
    codec: str
    relpath: str
    started_at: datetime
    width: int
    height: int
    note: str
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class Closed:
    uid: str
    session_id: int
    stats: SegmentStats
    reason: str
    failed: bool
    lost_frames: int
    skipped_frames: int


@dataclass
class Alarm:
    session_id: int
    reason: str  # disk_full | write_error | queue_overflow
    message: str


@dataclass
class _Live:
    """Writer-thread state of one track."""

    track: Track
    assembler: Vp8Assembler | OpusAssembler
    writer: SegmentWriter | None = None
    uid: str = ""
    skipped: int = 0
    dead: bool = False  # opening failed (full disk): drop this track's frames
    lost_base: int = 0
    pending_reason: str = "start"
    extra: dict[str, Any] = field(default_factory=dict)


class Recorder:
    """Implements the SFU tap. ``resolve`` maps the SFU's room id to (session id, place);
    ``wants`` says whether a (session, place) is being recorded now; ``events`` receives
    ``Opened``/``Closed``/``Alarm`` on the event loop."""

    def __init__(
        self,
        root: Path,
        *,
        resolve: Callable[[str], tuple[int, str] | None],
        wants: Callable[[int, str], bool],
        events: Callable[[Opened | Closed | Alarm], None],
        describe: Callable[[str], dict[str, str]] = lambda peer_id: {},
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> None:
        self.root = root
        self.resolve, self.wants, self.events, self.describe = resolve, wants, events, describe
        self.min_free_bytes = min_free_bytes
        self.tracks: dict[tuple[str, str], Track] = {}
        self.queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self.overflow = 0
        self.queued_packets = 0
        self.recorded_frames = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._stopped_sessions: set[int] = set()

    # --- the tap (event loop) ----------------------------------------------------------

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> None:
        key = (peer_id, track_id)
        where = self.resolve(room)
        old = self.tracks.get(key)
        reason = "start"
        if old is not None:
            reason = "room_move" if old.room != room else "restart"
            self._command("end", key, reason)
        if where is None:
            self.tracks.pop(key, None)
            return
        session_id, place = where
        recording = (
            kind in ("video", "audio")
            and session_id not in self._stopped_sessions
            and self.wants(session_id, place)
        )
        track = Track(
            key,
            session_id,
            room,
            kind,
            label,
            codec.lower(),
            recording,
            reason,
            dict(self.describe(peer_id)),
        )
        self.tracks[key] = track
        self._command("start", key, track)

    def on_media(self, peer_id: str, track_id: str, packet: Any) -> None:
        track = self.tracks.get((peer_id, track_id))
        if track is None or not track.recording:
            return
        if len(self.queue) >= QUEUE_LIMIT:
            self.overflow += 1
            return
        # A mutable buffer may be rewritten in place for the next subscriber: copy it.
        if isinstance(packet, bytearray | memoryview):
            packet = bytes(packet)
        self.queued_packets += 1
        self.queue.append(("m", track.key, packet, time.time()))

    def on_track_end(self, peer_id: str, track_id: str) -> None:
        key = (peer_id, track_id)
        if self.tracks.pop(key, None) is not None:
            self._command("end", key, "track_end")

    # --- control (event loop) ----------------------------------------------------------

    def set_recording(self, session_id: int, on: bool, reason: str) -> None:
        """Start or stop writing every track of a session (host action, end, alarm)."""
        if on:
            self._stopped_sessions.discard(session_id)
        else:
            self._stopped_sessions.add(session_id)
        for track in self.tracks.values():
            if track.session_id != session_id:
                continue
            want = on and self.wants(session_id, self._place(track.room))
            if want != track.recording:
                track.recording = want
                self._command("start" if want else "end", track.key, track if want else reason)

    def _place(self, room: str) -> str:
        where = self.resolve(room)
        return where[1] if where else room

    def _command(self, op: str, key: tuple[str, str], arg: Any) -> None:
        self.queue.append((op, key, arg, time.time()))
        self._wake.set()

    def flush_barrier(self) -> asyncio.Future[None]:
        """A future resolved once the writer thread has handled everything queued so far."""
        assert self._loop is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self.queue.append(("barrier", ("", ""), fut, time.time()))
        self._wake.set()
        return fut

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Close every open segment (reason ``shutdown``) and end the thread."""
        for key in list(self.tracks):
            self._command("end", key, "shutdown")
        self.tracks.clear()
        if self._thread is not None:
            await self.flush_barrier()
            self._stop = True
            self._wake.set()
            await asyncio.to_thread(self._thread.join)

    # --- writer thread -----------------------------------------------------------------

    def _emit(self, event: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.events, event)

    def _run(self) -> None:
        live: dict[tuple[str, str], _Live] = {}
        next_check = 0.0
        while True:
            now = time.monotonic()
            if now >= next_check and live:
                next_check = now + 1.0
                self._check_disk(live)
            try:
                item = self.queue.popleft()
            except IndexError:
                for state in list(live.values()):
                    self._guard(live, state, lambda w: w.maybe_sync())
                if self._stop:
                    break
                self._wake.wait(IDLE_WAIT)
                self._wake.clear()
                continue
            op, key, arg, at = item
            if op == "m":
                target = live.get(key)
                if target is not None:
                    self._media(live, target, arg, at)
            elif op == "start":
                self._close(live, key, "restart")
                live[key] = _Live(arg, assembler_for(arg.kind), pending_reason=arg.start_reason)
            elif op == "end":
                self._close(live, key, arg)
            elif op == "barrier":
                fut = arg
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(_resolve, fut)

    def _media(
        self, live: dict[tuple[str, str], _Live], state: _Live, packet: Any, at: float
    ) -> None:
        try:
            frame = state.assembler.push(view_of(packet))
        except (ValueError, AttributeError, TypeError):
            return
        if frame is None or state.dead:
            return
        track = state.track
        if track.kind == "video":
            if state.writer is None and not frame.keyframe:
                state.skipped += 1
                return
            if (
                state.writer is not None
                and frame.keyframe
                and (frame.width, frame.height) != (state.writer.width, state.writer.height)
            ):
                self._close(live, track.key, "resolution", keep=True)
                state.pending_reason = "resolution"
        if state.writer is None:
            self._open(state, frame.width, frame.height, at)
            if state.writer is None:
                return
        writer = state.writer
        self._guard(live, state, lambda w: w.write(frame.data, frame.timestamp, frame.keyframe))
        if not writer.closed:
            self.recorded_frames += 1

    def _open(self, state: _Live, width: int, height: int, at: float) -> None:
        track = state.track
        uid = uuid.uuid4().hex
        relpath = paths.segment_relpath(track.session_id, uid)
        started = datetime.fromtimestamp(at, UTC)
        info = track.info
        tags = {
            "segment": uid,
            "session": str(track.session_id),
            "peer": track.key[0],
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
                track.key[0],
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
        self, live: dict[tuple[str, str], _Live], state: _Live, fn: Callable[[SegmentWriter], None]
    ) -> None:
        if state.writer is None or state.writer.closed:
            return
        try:
            fn(state.writer)
        except Exception as exc:
            self._alarm(state.track.session_id, exc)
            self._close(
                live, state.track.key, "disk_full" if _is_full(exc) else "write_error", failed=True
            )

    def _close(
        self,
        live: dict[tuple[str, str], _Live],
        key: tuple[str, str],
        reason: str,
        *,
        keep: bool = False,
        failed: bool = False,
    ) -> None:
        state = live.get(key) if keep else live.pop(key, None)
        if state is None or state.writer is None:
            return
        writer, state.writer = state.writer, None
        try:
            stats = writer.close()
        except Exception:
            log.exception("closing segment %s", state.uid)
            stats, failed = writer.stats(), True
        self._emit(
            Closed(
                state.uid,
                state.track.session_id,
                stats,
                reason,
                failed,
                state.assembler.lost_frames - state.lost_base,
                state.skipped,
            )
        )
        state.skipped = 0

    def _check_disk(self, live: dict[tuple[str, str], _Live]) -> None:
        try:
            free = shutil.disk_usage(self.root).free
        except OSError:
            return
        if free >= self.min_free_bytes:
            return
        for session_id in {s.track.session_id for s in live.values() if s.writer}:
            self._alarm(session_id, OSError(errno.ENOSPC, f"only {free} bytes free"))
            for key in [k for k, s in live.items() if s.track.session_id == session_id]:
                self._close(live, key, "disk_full", failed=True)

    def _alarm(self, session_id: int, exc: BaseException) -> None:
        reason = "disk_full" if _is_full(exc) else "write_error"
        log.error("recording of session %s stopped: %s", session_id, exc)
        self._emit(Alarm(session_id, reason, str(exc)))


def _is_full(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
