"""The case mailbox (电子邮箱, issue 17 part 3), through the real SMTP endpoint the app starts
and a real SMTP client (``smtplib``): mail from a street office's registered address or the
court's domain lands in the case file (attachments as documents with their SHA-256, the
message in the case's timeline and the audit log) and the sender gets a receipt at a real
SMTP server started here; anyone else, an unknown case, another office's case and a message
over the size limit are refused, and nothing is stored. Without ``MAILBOX_PORT`` no endpoint
is started."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server import docket
from server.app import create_app
from server.docket.documents import root
from server.docket.schemas import CaseCreate
from server.models.accounts import Office
from server.models.audit import AuditEntry
from server.models.docket import DocketEntry
from server.models.documents import CaseDocument
from server.settings import Settings
from server.web.keys import MAILBOX, SESSIONMAKER, SETTINGS
from tests.docket_helpers import court_admin, parties
from tests.helpers import audit_settled, free_port, login, make_user, smtp_server, unit
from tests.test_documents import PDF, PNG
from tests.test_outbox_mail import Inbox

CODE = "ABCD2345"
OFFICE_ADDRESS = "shaping@office.example"
OTHER_OFFICE_ADDRESS = "caiwa@office.example"


@pytest.fixture
def sink() -> Iterator[tuple[Inbox, int]]:
    """The court's outgoing mail server (the outside world): the receipts arrive here."""
    handler = Inbox()
    with smtp_server(handler) as port:
        yield handler, port


@dataclass
class World:
    client: TestClient
    case_id: int


@pytest.fixture
async def court(aiohttp_client, settings: Settings, sink):
    mailbox_settings = settings.model_copy(
        update={
            "smtp_url": f"smtp://127.0.0.1:{sink[1]}",
            "mailbox_port": free_port(),
            "mailbox_domain": "court.example",
            "mailbox_max_bytes": 200_000,
        }
    )
    client = await aiohttp_client(create_app(mailbox_settings))
    async with client.app[SESSIONMAKER]() as db:
        for code, address in (("shaping", OFFICE_ADDRESS), ("caiwa", OTHER_OFFICE_ADDRESS)):
            office = await db.scalar(select(Office).where(Office.code == code))
            assert office is not None
            office.email = address
        await db.commit()
    admin = await court_admin(client)
    async with unit(client.app, admin) as ctx:
        office_id = await ctx.db.scalar(select(Office.id).where(Office.code == "shaping"))
        assert office_id is not None
        case = await docket.create_case(
            ctx,
            CaseCreate(cause="民间借贷纠纷", parties=parties()),
            office_id=office_id,
            tracking_code=CODE,
        )
    return World(client, case.id)


def _mail(sender: str, to: str, subject: str, attachments: list[tuple[str, bytes]]) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("张三提交的借条照片和收据，请归入卷宗。\n沙坪街道办事处")
    for name, data in attachments:
        maintype, subtype = {
            "png": ("image", "png"),
            "pdf": ("application", "pdf"),
        }.get(name.rsplit(".", 1)[-1], ("text", "plain"))
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP)  # CRLF line ends, as a mail program sends


def _smtp_send(port: int, sender: str, to: str, content: bytes) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        return smtp.sendmail(sender, [to], content)


async def _send(world: World, sender: str, to: str, content: bytes) -> dict[str, Any]:
    port = world.client.app[SETTINGS].mailbox_port
    return await asyncio.to_thread(_smtp_send, port, sender, to, content)


async def _refused(world: World, sender: str, to: str) -> tuple[int, str]:
    content = _mail(sender, to, "证据", [("借条.png", PNG)])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        await _send(world, sender, to, content)
    code, text = caught.value.recipients[to]
    return code, text.decode()


async def _receipt(sink: tuple[Inbox, int], address: str) -> EmailMessage:
    """The one receipt sent to ``address``. It leaves once the message is filed, after the
    250 reply: wait for it (a bound on waiting, not a timed assertion)."""
    box, _port = sink
    for _ in range(600):
        if box.to(address):
            break
        await asyncio.sleep(0.05)
    (msg,) = box.to(address)
    return msg


async def _stored(world: World) -> tuple[int, int, list[str]]:
    app = world.client.app
    async with app[SESSIONMAKER]() as db:
        docs = await db.scalar(select(func.count()).select_from(CaseDocument))
        mails = await db.scalar(
            select(func.count()).select_from(DocketEntry).where(DocketEntry.kind == "mail")
        )
    files = sorted(p.name for p in root(app[SETTINGS]).rglob("*") if p.is_file())
    return int(docs or 0), int(mails or 0), files


async def test_office_mail_with_attachments_goes_into_the_case_file(court, sink) -> None:
    # The local part is the tracking code however it is written: lower case, a hyphen.
    to = "abcd-2345@Court.Example"
    content = _mail(
        OFFICE_ADDRESS.upper(),
        to,
        "张三诉李四 证据",
        [("借条.png", PNG), ("收据.pdf", PDF), ("说明.txt", b"plain words, not a document")],
    )
    assert await _send(court, OFFICE_ADDRESS.upper(), to, content) == {}

    async with court.client.app[SESSIONMAKER]() as db:
        docs = list(await db.scalars(select(CaseDocument).order_by(CaseDocument.id)))
        (entry,) = await db.scalars(select(DocketEntry).where(DocketEntry.kind == "mail"))
    assert [(d.filename, d.content_type, d.source) for d in docs] == [
        ("借条.png", "image/png", "mail"),
        ("收据.pdf", "application/pdf", "mail"),
    ]
    assert [d.sha256 for d in docs] == [hashlib.sha256(b).hexdigest() for b in (PNG, PDF)]
    assert all(d.case_id == court.case_id and d.title == "张三诉李四 证据" for d in docs)
    assert entry.case_id == court.case_id
    assert "借条照片和收据" in entry.text  # the message itself, for the clerks
    data = entry.data or {}
    assert data["sender"] == OFFICE_ADDRESS.upper() and data["subject"] == "张三诉李四 证据"
    assert data["documents"] == [d.id for d in docs]
    assert data["not_kept"] == [{"filename": "说明.txt", "reason": "type"}]

    receipt = await _receipt(sink, OFFICE_ADDRESS.upper())
    body = receipt.get_body(("plain",)).get_content()
    assert "回执" in receipt["Subject"] and CODE in body
    assert "借条.png" in body and "收据.pdf" in body
    assert hashlib.sha256(PNG).hexdigest() in body
    assert "说明.txt" in body and "PDF、JPEG、PNG" in body  # not kept, and why

    await audit_settled(court.client.app)
    async with court.client.app[SESSIONMAKER]() as db:
        actions = list(await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("document.uploaded") == 2
    assert "case.mail_received" in actions


async def test_the_case_page_shows_the_address_and_the_mail(court) -> None:
    to = f"{CODE}@court.example"
    await _send(court, OFFICE_ADDRESS, to, _mail(OFFICE_ADDRESS, to, "补充证据", []))
    await login(court.client, "fixture-admin")
    page = await (await court.client.get(f"/cases/{court.case_id}")).text()
    assert f'href="mailto:{CODE}@court.example"' in page  # where an office sends to
    assert "收到电子邮件" in page and "电子邮箱" in page  # the entry, by the mailbox
    assert f"{OFFICE_ADDRESS}：补充证据" in page and "借条照片和收据" in page


async def test_a_stranger_is_refused_at_rcpt_and_nothing_is_stored(court, sink) -> None:
    to = f"{CODE}@court.example"
    code, text = await _refused(court, "someone@example.com", to)
    assert code == 550 and "5.7.1" in text
    # Another office's registered address: that office may not reach this case either, and
    # is told no more than that there is no such mailbox.
    code, text = await _refused(court, OTHER_OFFICE_ADDRESS, to)
    assert code == 550 and "5.1.1" in text
    # A bounce (the null sender) is nobody the mailbox knows.
    code, _text = await _refused(court, "", to)
    assert code == 550
    assert await _stored(court) == (0, 0, [])
    assert sink[0].messages == []


async def test_unknown_case_and_foreign_domain_are_refused(court) -> None:
    for to in ("ZZZZ2345@court.example", "postmaster@court.example", f"{CODE}@elsewhere.example"):
        code, text = await _refused(court, OFFICE_ADDRESS, to)
        assert code == 550 and "5.1.1" in text, to
    assert await _stored(court) == (0, 0, [])


async def test_the_courts_domain_is_accepted_with_or_without_an_account(court, sink) -> None:
    clerk = await make_user(
        court.client, "li", "clerk", display_name="李书记员", email="li@court.example"
    )
    to = f"{CODE}@court.example"
    await _send(
        court, "li@court.example", to, _mail("li@court.example", to, "补充", [("a.png", PNG)])
    )
    await _send(
        court, "registry@court.example", to, _mail("registry@court.example", to, "无附件", [])
    )

    async with court.client.app[SESSIONMAKER]() as db:
        (doc,) = await db.scalars(select(CaseDocument))
        entries = list(await db.scalars(select(DocketEntry).where(DocketEntry.kind == "mail")))
    assert doc.uploaded_by_id == clerk.id  # a court account's address acts as that account
    assert [(e.actor_id, (e.data or {})["documents"]) for e in entries] == [
        (clerk.id, [doc.id]),
        (None, []),
    ]
    assert "a.png" in (await _receipt(sink, "li@court.example")).get_body(("plain",)).get_content()
    bare = await _receipt(sink, "registry@court.example")
    assert "没有附件" in bare.get_body(("plain",)).get_content()


async def test_a_message_over_the_size_limit_is_refused(court) -> None:
    to = f"{CODE}@court.example"
    content = _mail(OFFICE_ADDRESS, to, "太大", [("big.pdf", PDF + b"0" * 300_000)])
    with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as caught:
        await _send(court, OFFICE_ADDRESS, to, content)
    assert caught.value.smtp_code == 552
    assert await _stored(court) == (0, 0, [])


async def test_the_endpoint_is_off_without_a_port(client) -> None:
    assert client.app[SETTINGS].mailbox_port == 0
    assert client.app[MAILBOX] is None
