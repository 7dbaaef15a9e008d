"""Consent freshness on a queued line (signaling/sfu/aiortc_hook/consent.py): two real aioice
connections on loopback, the answering side holding its answers back as a full queue would.

aioice's own check gives an answer 0.5 s: a party whose uplink queue holds a second lost its
connection ~35 s into every session on the 500 kb/s test line. The SFU's check waits for a
late answer, and still lets a connection go whose peer has stopped answering."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aioice
import pytest
from aioice import ice

from signaling.sfu.aiortc_hook import consent

# Short enough for a test: a check about every 0.2 s, given up after 3.5 s (sent at 0, 0.5
# and 1.5 s), consent lost after 2 s unanswered.
FAST = {"INTERVAL_S": 0.2, "EXPIRY_S": 2.0, "CHECK_RETRANSMISSIONS": 2}


async def connected_pair(patient: bool) -> tuple[ice.Connection, ice.Connection]:
    checker = aioice.Connection(ice_controlling=True)
    answerer = aioice.Connection(ice_controlling=False)
    if patient:
        consent.install(checker)
    await asyncio.gather(checker.gather_candidates(), answerer.gather_candidates())
    for a, b in ((checker, answerer), (answerer, checker)):
        for candidate in b.local_candidates:
            await a.add_remote_candidate(candidate)
        await a.add_remote_candidate(None)
        a.remote_username, a.remote_password = b.local_username, b.local_password
    await asyncio.gather(checker.connect(), answerer.connect())
    return checker, answerer


def answer_late(answerer: ice.Connection, delay: float | None) -> None:
    """The answerer's STUN answers leave ``delay`` seconds late (None: never)."""
    original = answerer.request_received

    def request_received(message, addr, protocol) -> None:  # type: ignore[no-untyped-def]
        if delay is not None:
            asyncio.get_running_loop().call_later(delay, original, message, addr, protocol)

    answerer.request_received = request_received  # type: ignore[method-assign]


async def closed_within(connection: ice.Connection, seconds: float) -> bool:
    for _ in range(int(seconds * 10)):
        if connection._query_consent_task is None or connection._query_consent_task.done():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.fixture
def fast_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST.items():
        monkeypatch.setattr(consent, name, value)
    monkeypatch.setattr(ice, "CONSENT_INTERVAL", FAST["INTERVAL_S"])


Line = Callable[[bool, float | None], Awaitable[tuple[ice.Connection, ice.Connection]]]


@pytest.fixture
async def line(fast_checks: None) -> AsyncIterator[Line]:
    """Connects a pair (the checker patient or not) whose answers leave ``delay`` late."""
    made: list[ice.Connection] = []

    async def connect(patient: bool, delay: float | None) -> tuple[ice.Connection, ice.Connection]:
        checker, answerer = await connected_pair(patient)
        made.extend((checker, answerer))
        answer_late(answerer, delay)
        return checker, answerer

    yield connect
    for connection in made:
        await connection.close()


async def test_a_second_late_answer_keeps_consent(line: Line) -> None:
    checker, answerer = await line(True, 1.0)
    # three expiry periods of late answers: the connection stays
    assert not await closed_within(checker, 3 * FAST["EXPIRY_S"])
    await checker.sendto(b"still here", 1)
    assert await asyncio.wait_for(answerer.recv(), 5) == b"still here"


async def test_aioices_own_check_drops_the_same_line(line: Line) -> None:
    # What the SFU had before: the same late answers end the connection.
    checker, _ = await line(False, 1.0)
    assert await closed_within(checker, 3 * FAST["EXPIRY_S"])


async def test_a_peer_that_stopped_answering_loses_consent(line: Line) -> None:
    checker, _ = await line(True, None)
    assert await closed_within(checker, 5 * FAST["EXPIRY_S"])
