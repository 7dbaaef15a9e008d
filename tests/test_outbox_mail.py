"""Invitations and reminders delivered to a real SMTP server (aiosmtpd, started here): the
.ics parses back with the right METHOD, UID and SEQUENCE; moves and cancellations update the
same event; reminders at 24 h and 1 h; retries with backoff after the server refuses; the
delivery state on the booking; SMS through a pluggable backend."""

from __future__ import annotations

import asyncio
import email
from datetime import datetime, timedelta
from email.policy import default as default_policy
from typing import Any, ClassVar

import pytest
from icalendar import Calendar

from server.app import create_app
from server.settings import Settings
from server.web.keys import COURT, SENDER, SESSIONMAKER
from tests.helpers import smtp_server, sqlite_write_lock
from tests.test_booking_support import MONDAY, World, local, start_world
from tests.waiting import wait_for


class Inbox:
    """An SMTP handler that keeps what it accepts, refusing the first ``refuse`` messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse = 0
        self.refusal = "451 4.3.0 try again later"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse > 0:
            self.refuse -= 1
            return self.refusal
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


class FakeGateway:
    """Stands in for a court's SMS gateway (the outside world) via COURTLINK_SMS_BACKEND."""

    sent: ClassVar[list[tuple[str, str]]] = []

    def __init__(self, settings: Settings) -> None:
        pass

    async def send(self, phone: str, text: str) -> None:
        FakeGateway.sent.append((phone, text))


@pytest.fixture
def inbox():
    handler = Inbox()
    with smtp_server(handler) as port:
        yield handler, port


@pytest.fixture
def mail_settings(settings: Settings, inbox) -> Settings:
    FakeGateway.sent = []
    return settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{inbox[1]}",
            "sms_backend": "tests.test_outbox_mail:FakeGateway",
        }
    )


@pytest.fixture
async def world(aiohttp_client, mail_settings) -> World:
    app = create_app(mail_settings)
    app[SENDER].autostart = False  # these tests drive the sender pass by pass
    return await start_world(aiohttp_client, app)


def _ics(msg: email.message.EmailMessage) -> Calendar:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert parts, "no text/calendar part"
    attachment = next(p for p in parts if p.get_filename() == "invite.ics")
    return Calendar.from_ical(attachment.get_payload(decode=True))


def _event(cal: Calendar) -> Any:
    (event,) = [c for c in cal.walk() if c.name == "VEVENT"]
    return event


async def _send(world: World, now: datetime | None = None) -> int:
    app = world.client.app
    return await app[SENDER].run_once(app[SESSIONMAKER], now)


async def test_invitation_move_and_cancel_reach_every_participant(world: World, inbox):
    box, _port = inbox
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    booking = await resp.json()
    assert await _send(world) == 5  # 3 e-mails (mediator, office, party with e-mail), 2 SMS
    assert {r for rcpt, _ in box.messages for r in rcpt} == {
        "wang@court.example",
        "shaping-staff@office.example",
        "zhangsan@example.cn",
    }
    party_mail = box.to("zhangsan@example.cn")[0]
    cal = _ics(party_mail)
    assert str(cal["METHOD"]) == "REQUEST"
    event = _event(cal)
    assert str(event["UID"]) == booking["uid"]
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == datetime.fromisoformat("2026-09-21T09:00:00+08:00")
    link = next(i["url"] for i in booking["invites"] if i["party_name"] == "张三")
    assert link in party_mail.get_body(("plain",)).get_content()
    assert link in str(event["DESCRIPTION"])
    assert "预约通知" in party_mail["Subject"]
    assert {p for p, _ in FakeGateway.sent} == {"13800000001", "13800000002"}
    assert any("/join/" in text for _, text in FakeGateway.sent)
    # The time as residents know it: Beijing time, not the time zone database's name.
    assert all("2026-09-21 09:00–10:00（北京时间）" in text for _, text in FakeGateway.sent)
    assert (
        "时间：2026-09-21 09:00–10:00（北京时间）" in party_mail.get_body(("plain",)).get_content()
    )

    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/move",
        json={"starts_at": local(MONDAY, 15, 0), "duration_minutes": 60, "reason": "调解员调整"},
    )
    assert resp.status == 200
    box.messages.clear()
    FakeGateway.sent.clear()
    assert await _send(world) == 5
    # A resident's text says the session moved: the same words as the first would read as
    # the first sent twice.
    assert [t.startswith("【") and "改期" in t for _, t in FakeGateway.sent] == [True, True]
    moved = _event(_ics(box.to("wang@court.example")[0]))
    assert str(moved["UID"]) == booking["uid"] and int(moved["SEQUENCE"]) == 1
    assert moved.decoded("DTSTART") == datetime.fromisoformat("2026-09-21T15:00:00+08:00")

    resp = await world.api(
        "staff_shaping",
        "POST",
        f"/scheduling/bookings/{booking['id']}/cancel",
        json={"reason": "已和解"},
    )
    assert resp.status == 200
    box.messages.clear()
    assert await _send(world) == 5
    cal = _ics(box.to("zhangsan@example.cn")[0])
    assert str(cal["METHOD"]) == "CANCEL"
    cancelled = _event(cal)
    assert str(cancelled["UID"]) == booking["uid"] and int(cancelled["SEQUENCE"]) == 2
    assert str(cancelled["STATUS"]) == "CANCELLED"
    # The reminders of the old times were superseded: nothing else will ever go out.
    assert await _send(world, datetime(2026, 9, 22, tzinfo=MONDAY_TZ)) == 0


MONDAY_TZ = datetime.fromisoformat(local(MONDAY, 0, 0)).tzinfo


async def test_reminders_24_hours_and_1_hour_before(world: World, inbox):
    box, _port = inbox
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    start = datetime.fromisoformat((await resp.json())["starts_at"].replace("Z", "+00:00"))
    await _send(world)
    box.messages.clear()
    assert await _send(world, start - timedelta(hours=25)) == 0
    assert await _send(world, start - timedelta(hours=24)) == 5
    assert len(box.messages) == 3  # the e-mails (the other two are text messages)
    assert all("提醒：明天" in m["Subject"] for _, m in box.messages)
    reminders = [t for _, t in FakeGateway.sent[-2:]]
    assert all("提醒：明天" in t and "/join/" in t for t in reminders), reminders
    assert all(
        not [p for p in m.walk() if p.get_content_type() == "text/calendar"]
        for _, m in box.messages
    )
    box.messages.clear()
    assert await _send(world, start - timedelta(hours=2)) == 0
    assert await _send(world, start - timedelta(minutes=60)) == 5
    assert len(box.messages) == 3
    assert all("1小时后" in m["Subject"] for _, m in box.messages)
    assert all("提醒：1小时后" in t for _, t in FakeGateway.sent[-2:])


@pytest.mark.parametrize("refusal", ["451 4.3.0 try again later", "554 5.7.1 rejected for now"])
async def test_retry_with_backoff_after_a_refusal(world: World, inbox, refusal):
    box, _port = inbox
    box.refuse, box.refusal = 3, refusal
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    booking = await resp.json()
    now = world.clock()
    assert await _send(world, now) == 2  # the SMS went; the three e-mails were refused
    resp = await world.api("staff_shaping", "GET", f"/scheduling/bookings/{booking['id']}")
    mails = [
        d
        for d in (await resp.json())["deliveries"]
        if d["channel"] == "email" and d["purpose"] == "request"
    ]
    assert [d["status"] for d in mails] == ["pending"] * 3
    assert all(d["attempts"] == 1 and refusal[:3] in d["last_error"] for d in mails)
    assert await _send(world, now + timedelta(seconds=30)) == 0  # backing off
    assert await _send(world, now + timedelta(seconds=61)) == 3
    resp = await world.api("staff_shaping", "GET", f"/scheduling/bookings/{booking['id']}")
    mails = [
        d
        for d in (await resp.json())["deliveries"]
        if d["channel"] == "email" and d["purpose"] == "request"
    ]
    assert [(d["status"], d["attempts"]) for d in mails] == [("sent", 2)] * 3
    assert len(box.messages) == 3


async def test_gives_up_after_the_last_attempt(world: World, inbox):
    box, _port = inbox
    box.refuse = 10**6
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    booking = await resp.json()
    now = world.clock()
    for _ in range(10):
        await _send(world, now)
        now += timedelta(hours=2)
    resp = await world.api("staff_shaping", "GET", f"/scheduling/bookings/{booking['id']}")
    mails = [
        d
        for d in (await resp.json())["deliveries"]
        if d["channel"] == "email" and d["purpose"] == "request"
    ]
    assert [(d["status"], d["attempts"]) for d in mails] == [("failed", 8)] * 3


async def test_the_background_sender_delivers_on_its_own(aiohttp_client, mail_settings, inbox):
    """A booking's request goes out with nobody driving the sender. The test waits for each
    of its messages to be recorded as sent, not for the first mail: the SMTP server is
    stopped before the app, and a delivery still talking to it then broke its loop's close
    (a clean-clone run)."""
    box, _port = inbox
    app = create_app(mail_settings)  # sender running, as in production
    world = await start_world(aiohttp_client, app)
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    assert resp.status == 201
    path = f"/scheduling/bookings/{(await resp.json())['id']}"

    async def all_sent() -> bool:
        deliveries = (await (await world.api("staff_shaping", "GET", path)).json())["deliveries"]
        now = [d for d in deliveries if d["purpose"] == "request"]  # reminders wait their day
        return bool(now) and all(d["status"] == "sent" for d in now)

    await wait_for(all_sent, 60, what="every message of the booking's request sent")
    assert len(box.messages) == 3  # its three e-mails (the SMS went to the gateway)


async def test_each_committed_change_wakes_the_sender_once(world: World):
    woken: list[str] = []
    # Counts the signal the outbox asks for after the commit, in place of the sender's wake.
    world.client.app[COURT].signals.register("outbox", lambda: woken.append("outbox"))
    refused = await world.book("staff_shaping", "shaping", local(MONDAY, 12, 30), 60)
    assert refused.status == 422 and woken == []  # lunch break: nothing written, no wake-up
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    assert resp.status == 201 and woken == ["outbox"]
    path = f"/scheduling/bookings/{(await resp.json())['id']}"
    move = {"starts_at": local(MONDAY, 15, 0), "duration_minutes": 60, "reason": "改期"}
    resp = await world.api("staff_shaping", "POST", path + "/move", json=move)
    assert resp.status == 200 and woken == ["outbox"] * 2
    resp = await world.api("staff_shaping", "POST", path + "/cancel", json={"reason": "撤诉"})
    assert resp.status == 200 and woken == ["outbox"] * 3


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the lock is SQLite's
async def test_an_idle_pass_takes_no_write_lock(world: World):
    """Most passes find nothing due: they look without SQLite's write lock, so a pass never
    waits behind another writer, nor makes one wait, for nothing."""
    async with sqlite_write_lock(world.client.app):
        sent = await asyncio.wait_for(_send(world), 5)
    assert sent == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_nodes_send_each_message_once(world: World, inbox, aiohttp_client, mail_settings):
    """Two nodes on one database, their senders passing at the same moments: every message
    goes out exactly once (each pass claims its rows with a lease, skipping rows another
    pass has locked)."""
    box, _port = inbox
    other = create_app(mail_settings.model_copy(update={"node_id": "node-b"}))
    other[SENDER].autostart = False
    other[COURT].clock = world.clock  # the same held day on both nodes
    second = await aiohttp_client(other)
    resp = await world.book("staff_shaping", "shaping", local(MONDAY, 9, 0), 60)
    assert resp.status == 201, await resp.text()
    senders = [(world.client.app, world.client.app[SENDER]), (second.app, second.app[SENDER])]
    sent = 0
    for _ in range(3):
        counts = await asyncio.gather(*(s.run_once(app[SESSIONMAKER], None) for app, s in senders))
        sent += sum(counts)
    assert sent == 5  # 3 e-mails and 2 SMS, each by one node
    assert len(box.messages) == 3
    assert sorted(r for rcpt, _ in box.messages for r in rcpt) == sorted(set(
        r for rcpt, _ in box.messages for r in rcpt
    ))  # fmt: skip
    assert len(FakeGateway.sent) == 2
