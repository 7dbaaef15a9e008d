"""Disk I/O for recordings, off the event loop: the muxer writes to memory, a thread to disk.

The recorder muxes on the event loop (a thread of its own for that cost more CPU in GIL
hand-offs than the muxing itself: bench/README.md), so nothing on the loop may block on the
disk. PyAV writes each segment into a ``SpoolFile``: an in-memory file that only records
``(offset, bytes)`` chunks (the Matroska muxer writes whole clusters in order and seeks back
only when it closes the file). Once per batch the chunks go to the ``DiskWriter`` thread,
which opens, ``pwrite``s, ``fsync``s and closes the real files, in the order asked.

A failed write (a full disk) is kept on the ``SpoolFile`` (``error``); the next batch of that
segment raises it on the loop, where the recorder stops the recording with an alarm.
Completions (a segment closed and synced, a barrier) come back on the loop through
``call_soon_threadsafe``.

Without a ``DiskWriter`` a ``SpoolFile`` writes at once, in the caller's thread: for tools
and tests that use ``SegmentWriter`` alone.
"""

from __future__ import annotations

import asyncio
import collections
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

IDLE_WAIT = 1.0


class SpoolFile:
    """The file object PyAV writes a segment to (``write``/``seek``/``tell``)."""

    def __init__(self, path: Path, disk: DiskWriter | None = None) -> None:
        self.path = path
        self.disk = disk
        self.fd: int | None = None  # opened by whoever writes first: the disk thread
        self.pos = 0
        self.size = 0
        self.pending: list[tuple[int, bytes]] = []
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        if self.disk is None:
            write_chunk(self, self.pos, chunk)
        else:
            self.pending.append((self.pos, chunk))
        self.pos += len(chunk)
        self.size = max(self.size, self.pos)
        return len(chunk)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self.pos
        elif whence == os.SEEK_END:
            offset += self.size
        self.pos = offset
        return offset

    def tell(self) -> int:
        return self.pos

    def take(self) -> list[tuple[int, bytes]]:
        chunks, self.pending = self.pending, []
        return chunks


def write_chunk(file: SpoolFile, offset: int, chunk: bytes) -> None:
    if file.fd is None:
        file.path.parent.mkdir(parents=True, exist_ok=True)
        file.fd = os.open(file.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    view = memoryview(chunk)
    while view:
        written = os.pwrite(file.fd, view, offset)
        view, offset = view[written:], offset + written


def sync(file: SpoolFile) -> None:
    if file.fd is not None:
        os.fsync(file.fd)


def close(file: SpoolFile) -> None:
    if file.fd is not None:
        try:
            os.fsync(file.fd)
        finally:
            os.close(file.fd)
            file.fd = None


class DiskWriter:
    """One thread doing every recording file's I/O, in submission order."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._jobs: collections.deque[tuple[str, SpoolFile | None, Any]] = collections.deque()
        self._wake = threading.Event()
        self._stop = False
        self.queued_bytes = 0  # counted on the loop
        self.written_bytes = 0  # counted by the thread
        self._thread = threading.Thread(target=self._run, name="recording-disk", daemon=True)
        self._thread.start()

    @property
    def native_id(self) -> int:
        return self._thread.native_id or 0

    @property
    def backlog(self) -> int:
        """Bytes handed to the thread and not written yet."""
        return self.queued_bytes - self.written_bytes

    # ``write`` and ``sync`` only queue: the recorder wakes the thread once per batch
    # (``kick``), since every wake-up is a GIL hand-off with the event loop.

    def write(self, file: SpoolFile) -> None:
        """Queue the file's pending chunks (nothing to do if there are none)."""
        if file.pending:
            chunks = file.take()
            self.queued_bytes += sum(len(chunk) for _, chunk in chunks)
            self._jobs.append(("write", file, chunks))

    def sync(self, file: SpoolFile) -> None:
        self._jobs.append(("sync", file, None))

    def kick(self) -> None:
        """Start on what was queued."""
        if self._jobs:
            self._wake.set()

    def close(self, file: SpoolFile, done: Callable[[OSError | None], None]) -> None:
        """Write what is left, fsync, close; then ``done(error)`` on the loop."""
        self.write(file)
        self._jobs.append(("close", file, done))
        self._wake.set()

    def call(self, fn: Callable[[], None]) -> None:
        """``fn`` on the loop once everything submitted so far is on disk."""
        self._jobs.append(("call", None, fn))
        self._wake.set()

    async def stop(self) -> None:
        done: asyncio.Future[None] = self.loop.create_future()
        self.call(lambda: None if done.done() else done.set_result(None))
        await done
        self._stop = True
        self._wake.set()
        await asyncio.to_thread(self._thread.join)

    def _reply(self, fn: Callable[..., None], *args: Any) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        while True:
            self._wake.wait(IDLE_WAIT)
            self._wake.clear()
            while self._jobs:
                op, file, arg = self._jobs.popleft()
                if op == "call":
                    self._reply(arg)
                    continue
                assert file is not None
                try:
                    if op == "write":
                        for offset, chunk in arg:
                            if file.error is None:
                                write_chunk(file, offset, chunk)
                            self.written_bytes += len(chunk)
                    elif op == "sync" and file.error is None:
                        sync(file)
                    elif op == "close":
                        close(file)
                except OSError as exc:
                    file.error = file.error or exc
                if op == "close":
                    self._reply(arg, file.error)
            if self._stop and not self._jobs:
                return
