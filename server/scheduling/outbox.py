"""The transactional outbox: the messages a booking change must send, written as rows in the
same transaction as the change (so a refused or rolled-back booking sends nothing, and a
committed one is never forgotten). ``server.scheduling.sender`` delivers them later.

Who hears about a booking: its host (mediator or judge), the office (its address, else the
staff member who booked), and every party, by e-mail with an iCalendar invitation where they
have an address and by SMS where they have a phone number. Parties' messages carry their own
invite link. Reminders go out 24 hours and 1 hour before the start.

``enqueue`` is also the one place that wakes the sender: it asks for the "outbox" signal
after the commit (``Context.signal_after_commit``), so no caller has to remember it and the
sender never looks for rows that are not committed yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from server.context import Context
from server.formatting import BEIJING_TIME
from server.models.accounts import User
from server.models.scheduling import Booking, OutboxMessage, OutboxStatus
from server.scheduling.mail import build_ics
from server.settings import Settings

REMINDERS = (("remind_24h", timedelta(hours=24)), ("remind_1h", timedelta(hours=1)))
KIND_ZH = {"mediation": "远程调解", "hearing": "速裁远程庭审"}


@dataclass(frozen=True)
class Recipient:
    role: str  # host | office | party
    name: str
    email: str | None
    phone: str | None
    link: str | None


async def recipients(ctx: Context, booking: Booking, links: dict[int, str]) -> list[Recipient]:
    out = [Recipient("host", booking.host.display_name, booking.host.email, None, None)]
    office_email = booking.office.email
    if not office_email:
        creator = await ctx.db.get(User, booking.created_by_id)
        office_email = creator.email if creator else None
    out.append(Recipient("office", booking.office.name_zh, office_email, None, None))
    for party in booking.case.parties:
        out.append(Recipient("party", party.name, party.email, party.phone, links.get(party.id)))
    return out


def _when(booking: Booking, settings: Settings) -> str:
    tz = settings.tz
    zone = "北京时间" if settings.timezone in BEIJING_TIME else settings.timezone
    return (
        f"{booking.starts_at.astimezone(tz):%Y-%m-%d %H:%M}–"
        f"{booking.ends_at.astimezone(tz):%H:%M}（{zone}）"
    )


def _heading(booking: Booking, purpose: str) -> str:
    """What a message is, first in its subject and its text: a moved session's says so, so
    it is not taken for the first invitation sent twice."""
    return {
        "request": "预约通知" if booking.sequence == 0 else "改期通知",
        "cancel": "取消通知",
        "remind_24h": "提醒：明天",
        "remind_1h": "提醒：1小时后",
    }[purpose]


def _text(booking: Booking, settings: Settings, purpose: str, who: Recipient) -> tuple[str, str]:
    """Subject and plain-text body, in Chinese (the court's language)."""
    case_no = booking.case.number or f"#{booking.case_id}"
    kind = KIND_ZH.get(booking.kind, booking.kind)
    when = _when(booking, settings)
    heading = _heading(booking, purpose)
    subject = f"【{settings.court_name}】{heading} {kind} {case_no} {when}"
    lines = [
        f"{who.name}：",
        "",
        f"{settings.court_name}诉调对接中心{kind}（案号 {case_no}，案由 {booking.case.cause}）",
        f"时间：{when}",
        f"主持：{booking.host.display_name}",
        f"街道办事处：{booking.office.name_zh}",
    ]
    if purpose == "cancel":
        lines.append(f"本次{kind}已取消。原因：{booking.cancel_reason or ''}")
    elif who.link:
        lines += ["", "请在开始前几分钟通过以下链接进入（无需账号，请勿转发）：", who.link]
    else:
        lines += ["", f"请登录系统进入：{settings.public_url.rstrip('/')}/schedule"]
    lines += ["", f"预约编号 {booking.id}，版本 {booking.sequence}"]
    return subject, "\n".join(lines)


def _sms(booking: Booking, settings: Settings, purpose: str, who: Recipient) -> str:
    when = _when(booking, settings)
    kind = KIND_ZH.get(booking.kind, booking.kind)
    if purpose == "cancel":
        return f"【{settings.court_name}】您{when}的{kind}已取消。"
    heading = _heading(booking, purpose)
    return f"【{settings.court_name}】{heading} {kind} {when}。进入链接：{who.link or ''}"


async def enqueue(ctx: Context, booking: Booking, purpose: str, links: dict[int, str]) -> int:
    """The invitation (``request``) or cancellation (``cancel``) now, and for an active
    booking the reminders at their times, to every recipient with an address; the sender is
    woken once this unit of work commits. Returns how many messages were queued."""
    settings, now = ctx.settings, ctx.now()
    rows: list[dict[str, Any]] = []
    people = await recipients(ctx, booking, links)
    schedule = [(purpose, now)]
    if purpose == "request":
        schedule += [(p, booking.starts_at - lead) for p, lead in REMINDERS]
    for what, due in schedule:
        if what.startswith("remind") and due <= now:
            continue  # booked less than a day (an hour) ahead: that reminder has no point
        seen: set[tuple[str, str]] = set()
        for who in people:
            if who.email and ("email", who.email) not in seen:
                seen.add(("email", who.email))
                subject, body = _text(booking, settings, what, who)
                ics = None
                if what in ("request", "cancel"):
                    method = "CANCEL" if what == "cancel" else "REQUEST"
                    ics = build_ics(booking, settings, method, who.email, who.name, body)
                rows.append(_row(booking, what, "email", who, who.email, subject, body, ics, due))
            if who.phone and who.role == "party" and ("sms", who.phone) not in seen:
                seen.add(("sms", who.phone))
                text = _sms(booking, settings, what, who)
                rows.append(_row(booking, what, "sms", who, who.phone, "", text, None, due))
    if rows:
        # One multi-row INSERT, not one per message (up to 15 for a booking): nothing here
        # needs the new rows' ids, and the ORM inserts row by row when it must learn them.
        # ``render_nulls``: the SMS rows' empty ``ics`` is written as NULL, so they go in the
        # same INSERT as the e-mails (the ORM otherwise groups rows by which values are None).
        await ctx.db.execute(insert(OutboxMessage).execution_options(render_nulls=True), rows)
    ctx.signal_after_commit("outbox")
    return len(rows)


def _row(
    booking: Booking,
    purpose: str,
    channel: str,
    who: Recipient,
    address: str,
    subject: str,
    body: str,
    ics: str | None,
    due: datetime,
) -> dict[str, Any]:
    return dict(
        booking_id=booking.id,
        purpose=purpose,
        channel=channel,
        recipient=address,
        recipient_name=who.name,
        role=who.role,
        subject=subject,
        body=body,
        ics=ics,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
    )


async def supersede(ctx: Context, booking: Booking) -> None:
    """A moved or cancelled booking: unsent messages about the old time must not go out
    (the new invitation or the cancellation replaces them)."""
    await ctx.db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.booking_id == booking.id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.SUPERSEDED)
    )
