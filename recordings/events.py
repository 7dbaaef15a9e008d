"""What the recorder knows and tells: its tracks and where their packets go, the events it
sends the recording service (``Opened``, ``Closed``, ``Alarm``), and the state of each track
being written."""

from __future__ import annotations

import collections
import errno
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from recordings.rtp import Frame, OpusAssembler, Vp8Assembler
from recordings.writer import SegmentStats, SegmentWriter

# Per track: ~20 s of a 720p camera's packets; only a stalled disk fills it, not normal load.
TRACK_QUEUE_LIMIT = 4000
_MUTABLE = (bytearray, memoryview)
Key = tuple[int, str, str]  # session id, the participant's pid, source


class Counter(Protocol):
    overflow: int  # packets dropped because a track's queue was full


class TrackSink:
    """Where the forwarding path puts one track's packets (``push`` is the sink the SFU
    calls): the deque of the track's current recording, or nowhere while it is not recorded.
    On the hot path: an attribute read and an append, no object, tuple or clock read."""

    __slots__ = ("counter", "packets")

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.packets: collections.deque[Any] | None = None

    def push(self, packet: Any) -> None:
        packets = self.packets
        if packets is None:
            return
        if len(packets) >= TRACK_QUEUE_LIMIT:
            self.counter.overflow += 1
            return
        if type(packet) in _MUTABLE:  # may be rewritten in place for the next subscriber
            packet = bytes(packet)
        packets.append(packet)


@dataclass
class Track:
    """What the loop knows of one forwarded track (set in ``on_track_start``)."""

    key: Key
    session_id: int
    room: str  # "main" or a caucus room
    kind: str
    label: str
    codec: str
    recording: bool
    sink: TrackSink
    start_reason: str = "start"
    info: dict[str, str] = field(default_factory=dict)  # identity, participant

    @property
    def pid(self) -> str:
        return self.key[1]


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
class LiveTrack:
    """The batch side's state of one recorded track: its packets, frames and segment."""

    track: Track
    assembler: Vp8Assembler | OpusAssembler
    sink: collections.deque[Any]
    writer: SegmentWriter | None = None
    uid: str = ""
    skipped: int = 0
    dead: bool = False  # opening failed (full disk): drop this track's frames
    lost_base: int = 0
    pending_reason: str = "start"
    extra: dict[str, Any] = field(default_factory=dict)


def wall_time(packets: list[Any], frame: Frame, clock: int) -> float:
    """When ``frame`` arrived, on the wall clock: from the SFU's monotonic arrival stamp of
    the batch's first packet and the RTP clock; the writer's own clock for other packets."""
    now = time.time()
    first = packets[0]
    arrival: float | None = getattr(first, "arrival", None)
    if arrival is None:
        return now
    start: int = first.timestamp
    offset = ((frame.timestamp - start + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return now - (time.monotonic() - arrival) + max(offset, 0) / clock


def is_full(exc: BaseException) -> bool:
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
