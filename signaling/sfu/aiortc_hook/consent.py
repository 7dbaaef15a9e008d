"""Consent freshness (RFC 7675) that a queued line does not break.

aioice checks consent every ~5 s with one STUN request that must be answered within 0.5 s,
and closes the connection after six such checks fail in a row. A party on a narrow line
whose own camera fills its uplink (a street office on 500 kb/s: the browser's encoder and its
retransmissions keep a second of queue in front of everything it sends) answers every check,
but a second late: each check "fails", and about 35 s into the session the SFU dropped a
party that was still talking. The browser tests on a 500 kb/s relay saw that in every run.

RFC 7675 asks for less: a check is a STUN transaction (retransmitted as any other), and
consent expires only when no check has been answered for 30 s (section 5.1). That is what
``patient_consent`` installs on an SFU peer's ICE connections: each check is retransmitted
for ``CHECK_RETRANSMISSIONS`` (answers held up to ~7 s in a queue still count) and the
connection closes after ``EXPIRY_S`` without an answer (a party who is really gone: their
browser closed, their line cut).
"""

from __future__ import annotations

import asyncio
import random
import time
import types
from collections.abc import Iterable
from typing import Any

from aioice import stun
from aiortc import RTCRtpTransceiver

INTERVAL_S = 5.0  # between checks, randomised by ±20 % as aioice and RFC 7675 do
EXPIRY_S = 30.0  # RFC 7675 section 5.1
# A check is sent at 0, 0.5, 1.5 and 3.5 s and gives up at 7.5 s (aioice's RTO doubling).
CHECK_RETRANSMISSIONS = 3


async def _query_consent(connection: Any) -> None:
    """The consent loop for one aioice ``Connection`` (replaces its ``query_consent``)."""
    answered = time.monotonic()
    while True:
        await asyncio.sleep(INTERVAL_S * (0.8 + 0.4 * random.random()))
        for pair in list(connection._nominated.values()):
            request = connection.build_request(pair, nominate=False)
            try:
                await pair.protocol.request(
                    request,
                    pair.remote_addr,
                    integrity_key=connection.remote_password.encode("utf8"),
                    retransmissions=CHECK_RETRANSMISSIONS,
                )
                answered = time.monotonic()
            except stun.TransactionError:
                pass
        if time.monotonic() - answered >= EXPIRY_S:
            # as aioice does: close() cancels and awaits this task, which is the caller
            connection._query_consent_task = None
            await connection.close()
            return


def patient_consent(transceivers: Iterable[RTCRtpTransceiver]) -> None:
    """Install the consent loop above on these transceivers' ICE connections (as each is
    added, before negotiating: aioice starts the loop when ICE completes)."""
    for transceiver in transceivers:
        install(transceiver.receiver.transport.transport._connection)


def install(connection: Any) -> None:
    """The consent loop above, on one aioice ``Connection`` (before it connects; once it has,
    its loop is already running and this changes nothing)."""
    connection.query_consent = types.MethodType(_query_consent, connection)
