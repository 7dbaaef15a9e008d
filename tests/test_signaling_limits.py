"""One socket's limits alone: the frame gate's token buckets (injected clock), and the
outgoing queue of ``signaling.conn.Conn`` (one roster pending at most; a socket that does
not read is cut off, not closed politely)."""

from __future__ import annotations

import asyncio
import contextlib

from signaling.conn import BEHIND, OUT_QUEUE, Conn
from signaling.limits import FrameGate, FrameLimit
from signaling.server_messages import PersonOut, ServerPing, State, serialize


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_let_through_then_refused_then_cut():
    clock = Clock()
    gate = FrameGate(FrameLimit(per_second=10, burst=5, refusals_per_second=1, refusal_burst=3),
                     clock)  # fmt: skip
    verdicts = [gate.check() for _ in range(10)]
    assert verdicts == ["ok"] * 5 + ["refuse"] * 3 + ["cut"] * 2


def test_a_steady_sender_within_the_rate_is_never_refused():
    clock = Clock()
    gate = FrameGate(FrameLimit(per_second=10, burst=2), clock)
    verdicts = []
    for _ in range(1000):
        clock.now += 0.1
        verdicts.append(gate.check())
    assert verdicts and set(verdicts) == {"ok"}


def test_refusals_are_forgiven_over_time():
    clock = Clock()
    gate = FrameGate(FrameLimit(per_second=1, burst=1, refusals_per_second=1, refusal_burst=2),
                     clock)  # fmt: skip
    assert [gate.check() for _ in range(3)] == ["ok", "refuse", "refuse"]
    clock.now += 10  # both buckets full again
    assert [gate.check() for _ in range(4)] == ["ok", "refuse", "refuse", "cut"]


class Deaf:
    """The browser's end of a socket that never reads: the first send never returns."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: int | None = None

    async def send_str(self, data: str) -> None:
        self.sent.append(data)
        await asyncio.Event().wait()

    async def close(self, *, code: int) -> None:
        self.closed = code


def state(audio: bool) -> State:
    me = PersonOut(pid="p0123456789ab", name="张三", role="party", place=None,
                     connected=True, audio=audio)  # fmt: skip
    return State(you=me, hosts=[], people=[me], rooms=[], lobby_count=1)


async def test_only_the_latest_roster_waits_in_the_queue():
    ws = Deaf()
    conn = Conn(ws, identity="party:1", name="张三", role="party")  # type: ignore[arg-type]
    try:
        conn.send(ServerPing())
        await asyncio.sleep(0)  # the writer is now stuck sending the ping
        for i in range(10 * OUT_QUEUE):
            conn.send_state(state(audio=i % 2 == 0))
        assert not conn.closing  # thousands of rosters, one queued
        assert conn.pending_state == serialize(state(audio=False))
    finally:
        await conn.stop()


async def test_a_socket_that_does_not_read_is_cut_off():
    ws = Deaf()
    cut: list[bool] = []
    conn = Conn(ws, identity="party:1", name="张三", role="party",  # type: ignore[arg-type]
                abort=lambda: cut.append(True))  # fmt: skip
    try:
        for _ in range(OUT_QUEUE + 2):
            conn.send(ServerPing())
        assert cut == [True] and conn.closing
        conn.send(ServerPing())  # nothing more is queued for it
        assert cut == [True]
    finally:
        await conn.stop()


async def test_without_a_transport_to_cut_it_is_closed_after_the_stuck_send():
    ws = Deaf()
    conn = Conn(ws, identity="party:1", name="张三", role="party")  # type: ignore[arg-type]
    try:
        conn.send(ServerPing())
        await asyncio.sleep(0)
        for _ in range(OUT_QUEUE + 1):
            conn.send(ServerPing())
        assert conn.closing
        assert conn._out.qsize() == 1 and conn._out.get_nowait() == BEHIND
    finally:
        await conn.stop()


class Swallowing:
    """A socket whose send takes a moment and swallows a cancellation that lands in it (as
    a transport's own write can): the writer then goes on to wait for the next message."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_str(self, data: str) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0.05)
        self.sent.append(data)

    async def close(self, code: int = 1000) -> None:
        pass


async def test_stopping_ends_a_writer_whose_send_swallowed_the_cancel():
    """The hang of a CI run: a participant left while a frame was being sent, the send
    swallowed the cancellation, the writer waited for a message that never came, and the
    hub (and with it the app's shutdown) waited on the writer for ever."""
    conn = Conn(Swallowing(), identity="party:1", name="张三", role="party")  # type: ignore[arg-type]
    conn.send(ServerPing())
    await asyncio.sleep(0.01)  # the writer is inside the send
    stopping = asyncio.create_task(conn.stop())
    # A bound on "stopped at all", not a timing: without the fix it never does.
    await asyncio.wait({stopping}, timeout=10)
    try:
        assert stopping.done() and conn._writer.done()
    finally:
        conn._writer.cancel()  # the writer, stuck without the fix, is not left behind
        stopping.cancel()
