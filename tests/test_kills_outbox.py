"""The real server SIGKILLed while its outbox sends mail, then started again (the way of
``tests/kill_helpers.py``): the kill lands while a slow SMTP server holds its answer to the
first mail. After the restart every mail arrives, at least once, a mail sent again carries
the same Message-ID as the first time, and the audit chain and the recordings still verify.
"""

from __future__ import annotations

import asyncio
import email
import signal
import threading
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from server.db import make_engine, make_sessionmaker
from server.models.scheduling import OutboxMessage, OutboxStatus
from server.settings import Settings
from server.web.keys import COURT, SENDER
from tests.helpers import free_port, stop_smtp
from tests.kill_helpers import Server, assert_verifies
from tests.test_booking_support import MONDAY, Clock, local, make_world
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


class SlowInbox:
    """An SMTP server that keeps every message and holds its answer to the first one until
    released: a slow server, so the kill lands between the data and the ``250``."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.first_arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(msg)
        if not self.first_arrived.is_set():
            self.first_arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return "250 OK"


async def test_sigkill_while_the_outbox_sends(
    aiohttp_client: Any,
    app: web.Application,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = SlowInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        app[SENDER].autostart = False  # the mail waits in the outbox for the server under test
        clock = Clock()  # booked in the held week of the scheduling tests
        app[COURT].clock = clock
        client = await aiohttp_client(app)
        world = await make_world(client, clock)
        for n in range(2):
            resp = await world.book(
                "staff_shaping", "shaping", local(MONDAY, 9 + n, 0), 60,
                host_id=world.users["med_wang"].id,
            )  # fmt: skip
            assert resp.status == 201, await resp.text()
        monkeypatch.setenv("COURTLINK_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
        engine = make_engine(settings)
        maker = make_sessionmaker(engine)
        async with maker() as db:
            emails = set(
                await db.scalars(select(OutboxMessage.id).where(OutboxMessage.channel == "email"))
            )
        assert len(emails) >= 4, emails

        server = Server(settings, free_port(), tmp_path / "server.log")
        await server.start()  # its sender's first pass starts at once

        async def first_mail() -> bool:
            return inbox.first_arrived.is_set()

        await wait_for(
            first_mail, 60, what="the first mail reaching the SMTP server", detail=server.log_tail
        )
        await server.kill(signal.SIGKILL)
        inbox.release.set()
        async with maker() as db:
            in_flight = set(
                await db.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENDING)
                )
            )
            assert in_flight, "the kill left no claimed mail"
            # The server comes back after its lease ran out (5 minutes): the claimed mail is
            # due again at the first pass.
            await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(in_flight))
                .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await db.commit()
        await server.start()

        async def all_sent() -> bool:
            async with maker() as db:
                sent = set(
                    await db.scalars(
                        select(OutboxMessage.id).where(
                            OutboxMessage.channel == "email",
                            OutboxMessage.status == OutboxStatus.SENT,
                        )
                    )
                )
            return sent == emails

        await wait_for(
            all_sent, 60, what="every mail sent after the restart", detail=server.log_tail
        )
        await server.kill(signal.SIGTERM)
        await engine.dispose()
    finally:
        stop_smtp(smtp)

    # At least once: one distinct Message-ID per outbox mail, every one arrived.
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(set(ids)) == len(emails), ids
    # The mail the kill interrupted came again, under the same Message-ID; nothing else twice.
    first = inbox.messages[0]["Message-ID"]
    assert ids.count(first) == 2, ids
    assert len(ids) == len(emails) + 1, ids
    print(f"KILL outbox: {len(emails)} mails, {len(in_flight)} claimed at the kill, "
          f"{len(ids)} deliveries, {len(set(ids))} distinct Message-IDs")  # fmt: skip
    await assert_verifies(server)
