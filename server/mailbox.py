"""The case mailbox's SMTP endpoint (电子邮箱): aiosmtpd on the server's own event loop.

``courtlink serve`` starts it with the app (``server.app``) when ``MAILBOX_PORT`` is set, on
``MAILBOX_HOST``. What it accepts and how a message is filed is ``server.docket.mailbox``;
this module speaks SMTP:

- RCPT: each recipient is admitted or refused there (550), so mail from anyone else is
  never received and nothing of it is stored; MAIL FROM is taken as given (no SPF or DKIM
  check here: put the court's own mail server in front when the endpoint faces the
  internet, as the README says).
- DATA over ``MAILBOX_MAX_BYTES`` is refused (552) by aiosmtpd, which announces the limit.
- DATA: the message is filed into every admitted case in one unit of work; a failure
  answers 451 so that the sending server tries again, with nothing half-filed.
- The receipt goes out after the commit and after the 250 reply, through the same SMTP
  client as the outbox's mail (``server.scheduling.mail``). It is not an outbox row: those
  belong to a booking (``outbox.booking_id`` is required), so a receipt that cannot be
  delivered is logged and not retried; the filing itself is in the case and the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from server.context import Actor, Court
from server.docket.mailbox import MailRefused, admit, file_message, receipt
from server.scheduling.mail import parse_smtp_url, send_email
from server.tasks import Background

log = logging.getLogger(__name__)
RECEIPTS_STOP_SECONDS = 10.0
CALLS_PER_SESSION = 50


def _actor(session: Session) -> Actor:
    # The audit log names the mailbox as the actor (or the sender's account, see admit), with
    # the connecting server's address.
    peer = session.peer[0] if isinstance(session.peer, tuple) else None
    return Actor("system", None, "mailbox", address=peer)


class CaseMailbox:
    """The endpoint: the aiosmtpd handler (``handle_RCPT``, ``handle_DATA``) and its
    listening server, started and stopped with the app."""

    def __init__(self, court: Court) -> None:
        self.court = court
        self.settings = court.settings
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._receipts = Background("mailing a filing's receipt")

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        try:
            async with self.court.unit(_actor(session)) as ctx:
                await admit(ctx, envelope.mail_from or "", address)
        except MailRefused as refused:
            log.info("mailbox refused %r -> %r: %s", envelope.mail_from, address, refused.reply)
            return refused.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = BytesParser(policy=default_policy).parsebytes(content)
        assert isinstance(message, EmailMessage)
        receipts = []
        try:
            async with self.court.unit(_actor(session)) as ctx:
                for rcpt in envelope.rcpt_tos:
                    # Asked again: a case or an account may have changed since RCPT.
                    admitted = await admit(ctx, envelope.mail_from or "", rcpt)
                    filed = await file_message(ctx, admitted, message)
                    receipts.append(receipt(ctx.settings, filed, message))
        except MailRefused as refused:
            return refused.reply
        except Exception:  # the database or the disk: the sending server retries later
            log.exception("mailbox could not file a message from %r", envelope.mail_from)
            return "451 4.3.0 The message could not be filed now; try again later"
        for mail in receipts:
            self._send_receipt(mail)
        return "250 2.0.0 Filed in the case file"

    def _send_receipt(self, mail: EmailMessage) -> None:
        if not self.settings.smtp_url:
            log.warning("mailbox receipt to %s not sent: COURTLINK_SMTP_URL is empty", mail["To"])
            return
        self._receipts.spawn(self._deliver(mail))

    async def _deliver(self, mail: EmailMessage) -> None:
        try:
            await send_email(parse_smtp_url(self.settings.smtp_url), mail)
        except Exception as exc:  # the outside world: logged, the filing stands
            log.warning("mailbox receipt to %s failed: %s", mail["To"], exc)

    @property
    def port(self) -> int:
        """The port listened on (the configured one)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings

        def session() -> SMTP:
            smtp = SMTP(
                self,
                data_size_limit=settings.mailbox_max_bytes,
                enable_SMTPUTF8=True,
                hostname=settings.court_mail_domain,
                ident="courtlink case mailbox",
                # Each RCPT is a look-up in the database: a session that keeps guessing
                # addresses is cut off (421) after this many of any one command.
                command_call_limit=CALLS_PER_SESSION,
                loop=loop,
            )
            self._sessions.add(smtp)
            return smtp

        self._server = await loop.create_server(
            session, settings.mailbox_host, settings.mailbox_port
        )
        log.info("case mailbox on %s:%d", settings.mailbox_host, self.port)

    async def stop(self) -> None:
        """Stop listening, end the open SMTP sessions (a sender not yet answered 250 sends
        again later), and let the receipts under way finish for a few seconds."""
        if self._server is not None:
            self._server.close()
            for smtp in list(self._sessions):
                if smtp.transport is not None:
                    smtp.transport.close()
            await self._server.wait_closed()
            self._server = None
        await self._receipts.stop(grace=RECEIPTS_STOP_SECONDS)
