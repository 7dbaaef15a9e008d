"""E-mail with an iCalendar invitation, and its delivery over SMTP.

An invitation is METHOD:REQUEST; a move sends REQUEST again with the same UID and a higher
SEQUENCE, so calendar programs update the event in place; a cancellation is METHOD:CANCEL
with the same UID. Times go out in UTC (every calendar program converts them), the court's
zone is named in the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

from server.models.base import utcnow
from server.models.scheduling import Booking, OutboxMessage
from server.scheduling import ics
from server.settings import Settings

PRODID = "-//courtlink//scheduling//ZH"


def _event(
    booking: Booking, settings: Settings, cancelled: bool, description: str, *attendees: str
) -> str:
    kind = "远程调解" if booking.kind == "mediation" else "速裁远程庭审"
    number = booking.case.number or f"#{booking.case_id}"
    return ics.component(
        "VEVENT",
        ics.prop("UID", ics.text(booking.uid)),
        ics.prop("SEQUENCE", str(booking.sequence)),
        ics.prop("DTSTAMP", ics.utc(utcnow())),
        ics.prop("DTSTART", ics.utc(booking.starts_at)),
        ics.prop("DTEND", ics.utc(booking.ends_at)),
        ics.prop("SUMMARY", ics.text(f"{kind} {number}")),
        ics.prop("LOCATION", ics.text(f"{booking.room.name} / {booking.office.name_zh}")),
        ics.prop("DESCRIPTION", ics.text(description)),
        ics.prop("STATUS", "CANCELLED" if cancelled else "CONFIRMED"),
        ics.prop("ORGANIZER", f"mailto:{settings.mail_from}", cn=settings.court_name),
        *attendees,
    )


def build_ics(
    booking: Booking,
    settings: Settings,
    method: str,
    email: str,
    name: str,
    description: str,
) -> str:
    """One recipient's invitation (their own invite link is in the description)."""
    attendee = ics.prop("ATTENDEE", f"mailto:{email}", cn=name, role="REQ-PARTICIPANT")
    return ics.component(
        "VCALENDAR",
        ics.prop("PRODID", PRODID),
        ics.prop("VERSION", "2.0"),
        ics.prop("METHOD", method),
        _event(booking, settings, method == "CANCEL", description, attendee),
    )


def feed_calendar(bookings: list[Booking], settings: Settings, name: str) -> bytes:
    """A subscribable calendar (no METHOD: it is published, not an invitation)."""
    return ics.component(
        "VCALENDAR",
        ics.prop("PRODID", PRODID),
        ics.prop("VERSION", "2.0"),
        ics.prop("X-WR-CALNAME", ics.text(name)),
        *(_event(b, settings, b.status == "cancelled", "") for b in bookings),
    ).encode()


def message_id(message: OutboxMessage, settings: Settings) -> str:
    """The same Message-ID every time one outbox row is sent: delivery is at least once (a
    send cut by a crash is sent again), and mail programs drop the copy by this header."""
    domain = settings.mail_from.rsplit("@", 1)[-1]
    stamp = message.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"<outbox.{message.id}.{stamp}@{domain}>"


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = formataddr((settings.court_name, settings.mail_from))
    mail["To"] = formataddr((message.recipient_name, message.recipient))
    mail["Subject"] = message.subject
    mail["Message-ID"] = message_id(message, settings)
    mail.set_content(message.body)
    if message.ics:
        method = "CANCEL" if "METHOD:CANCEL" in message.ics else "REQUEST"
        # Inline part for mail programs that show invitations, attachment for the rest.
        mail.add_alternative(message.ics, subtype="calendar", params={"method": method})
        mail.add_attachment(
            message.ics.encode(), maintype="text", subtype="calendar", filename="invite.ics"
        )
    return mail


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://user:pass@host:port`` (STARTTLS when offered) or ``smtps://`` (TLS)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("COURTLINK_SMTP_URL must look like smtp://user:pass@host:port")
    tls = parts.scheme == "smtps"
    return SmtpTarget(
        host=parts.hostname,
        port=parts.port or (465 if tls else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=tls,
    )


async def send_email(target: SmtpTarget, mail: EmailMessage) -> None:
    """Deliver one message; raises ``aiosmtplib.SMTPException`` or ``OSError`` on failure."""
    await aiosmtplib.send(
        mail,
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        timeout=30,
    )
