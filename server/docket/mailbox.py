"""The case mailbox (电子邮箱): who may write to a case by e-mail, and filing what they send.

A case's address is ``<tracking code>@<court mail domain>`` (``Settings.court_mail_domain``);
the local part is read the way a tracking code typed by hand is (any case, spaces and
hyphens ignored, a ``+tag`` after it dropped). Who may write is ``access.can_mail_case``:
the court's own domain, the registered address of the case's office, and the registered
address of an active account that may add to the case file.

The SMTP endpoint (``server.mailbox``) asks ``admit`` at RCPT time, so a refused message is
never taken at all and nothing of it is stored; then ``file_message`` puts each attachment
into the case file through ``add_document`` (the same type sniffing, size cap, SHA-256 and
audit as an upload) and records the message in the case's timeline and the audit log.

The message itself is not kept as a file: the case file holds PDF, JPEG and PNG only, and
rendering a mail to PDF would mean the agreements' font machinery for a few lines of text.
Its sender, subject, Message-ID and text (the first ``BODY_MAX`` characters) go into the
timeline entry instead, where the clerks read the case's history.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy import func, select

from server import access
from server.context import Actor, Context
from server.docket.documents import MAX_BYTES, TITLE_MAX, add_document
from server.docket.intake import normalize_code
from server.docket.log import log_change
from server.errors import BadRequest, PayloadTooLarge, UnsupportedMedia
from server.models.accounts import Office, User
from server.models.docket import Case
from server.models.documents import CaseDocument
from server.settings import Settings

BODY_MAX = 4000  # a covering note, not a brief: the rest belongs in an attached PDF
NO_SUCH_MAILBOX = "550 5.1.1 No such case mailbox here"
NOT_ACCEPTED = "550 5.7.1 This mailbox takes mail from the street offices and the court only"
# Why an attachment was not kept, for the timeline (a code) and the receipt (in Chinese).
NOT_KEPT_ZH = {
    "type": "不是 PDF、JPEG、PNG 文件（电子卷宗只收这三种）",
    "size": f"超过 {MAX_BYTES // (1024 * 1024)} MB",
    "empty": "文件是空的",
}


class MailRefused(Exception):
    """Mail this mailbox does not take; ``reply`` is the SMTP reply to give."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class Admitted:
    """A recipient accepted: the case, and who the filing is done as (the sender's account,
    or the mailbox itself for an office's or the court's address without one)."""

    case: Case
    actor: Actor
    sender: str


@dataclass
class Filed:
    """What one message left in one case."""

    case: Case
    sender: str
    subject: str
    documents: list[CaseDocument] = field(default_factory=list)
    not_kept: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def bare_address(address: str) -> str:
    """An address without its angle brackets, as written (a reply goes to it as given)."""
    return address.strip().strip("<>").strip()


def case_code(recipient: str, domain: str) -> str | None:
    """The tracking code a recipient address names, or None when it names none here."""
    local, at, host = bare_address(recipient).lower().rpartition("@")
    if not at or host != domain:
        return None
    return normalize_code(local.strip('"').split("+", 1)[0])


async def admit(ctx: Context, sender: str, recipient: str) -> Admitted:
    """May ``sender`` write to ``recipient``? Raises ``MailRefused``: a sender nobody here
    knows is told so whatever the address; a known one is told only that there is no such
    mailbox when the case does not exist or is not theirs (as another office's case is not
    found on the pages)."""
    written = bare_address(sender)
    address = written.lower()  # the domain is case-blind, and so are people writing local parts
    domain = ctx.settings.court_mail_domain
    from_court = "@" in address and address.rpartition("@")[2] == domain
    office_ids = set(
        await ctx.db.scalars(select(Office.id).where(func.lower(Office.email) == address))
    )
    users = list(
        await ctx.db.scalars(
            select(User)
            .where(func.lower(User.email) == address, User.active.is_(True))
            .order_by(User.id)
        )
    )
    if not address or not (from_court or office_ids or users):
        raise MailRefused(NOT_ACCEPTED)
    code = case_code(recipient, domain)
    case = None
    if code is not None:
        case = await ctx.db.scalar(select(Case).where(Case.tracking_code == code))
    if case is None:
        raise MailRefused(NO_SUCH_MAILBOX)
    user = next((u for u in users if access.can_add_document(u, case)), None)
    if not access.can_mail_case(case, from_court=from_court, office_ids=office_ids, user=user):
        raise MailRefused(NO_SUCH_MAILBOX)
    actor = Actor.for_user(user, ctx.actor.address) if user is not None else ctx.actor
    return Admitted(case, actor, written)


def attachments(message: EmailMessage) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every part that is not the message's text: named parts, and
    unnamed ones that are not text (an inline photo). Text parts without a name are the
    message's other renderings (its HTML beside its plain text)."""
    body = message.get_body(("plain", "html"))
    out: list[tuple[str, bytes]] = []
    for part in message.walk():
        if part.is_multipart() or part is body:
            continue
        name = part.get_filename()
        if name is None and part.get_content_maintype() == "text":
            continue
        data = part.get_payload(decode=True)
        out.append((name or f"attachment-{len(out) + 1}", data if isinstance(data, bytes) else b""))
    return out


def body_text(message: EmailMessage) -> str:
    """The message's text (its plain part, else its HTML without the markup), cut at
    ``BODY_MAX`` characters."""
    part = message.get_body(("plain", "html"))
    if part is None:
        return ""
    try:
        text = str(part.get_content())
    except (LookupError, UnicodeError):  # a charset Python does not know
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if part.get_content_subtype() == "html":
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "", text)
        text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>", "\n", text)
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    text = text.strip()
    return text if len(text) <= BODY_MAX else text[:BODY_MAX] + "…"


def _why(exc: Exception) -> str:
    if isinstance(exc, UnsupportedMedia):
        return "type"
    return "size" if isinstance(exc, PayloadTooLarge) else "empty"


async def file_message(ctx: Context, admitted: Admitted, message: EmailMessage) -> Filed:
    """Put ``message`` into the admitted case: each attachment into the case file (one that
    is not a PDF, JPEG or PNG, too large or empty is left out and named with the reason),
    then one timeline entry, audited, for the message. ``ctx`` acts as ``admitted.actor``."""
    ctx = ctx.acting_as(admitted.actor)
    case = admitted.case
    subject = " ".join(str(message.get("Subject", "")).split())
    filed = Filed(case, admitted.sender, subject)
    for name, data in attachments(message):
        try:
            doc = await add_document(
                ctx, case, data, filename=name, title=subject[:TITLE_MAX], source="mail"
            )
        except (BadRequest, PayloadTooLarge, UnsupportedMedia) as exc:
            # add_document refuses before it writes anything: nothing is left of this part.
            filed.not_kept.append((name, _why(exc)))
        else:
            filed.documents.append(doc)
    await log_change(
        ctx, case, "mail", "case.mail_received", text=body_text(message),
        data={
            "sender": admitted.sender, "subject": subject,
            "message_id": str(message.get("Message-ID", "")),
            "documents": [d.id for d in filed.documents],
            "not_kept": [{"filename": n, "reason": r} for n, r in filed.not_kept],
        },
        bump=False,  # the case's own state did not change; its file grew, as by an upload
    )  # fmt: skip
    return filed


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{-(-n // 1024)} KB"


def receipt(settings: Settings, filed: Filed, received: EmailMessage) -> EmailMessage:
    """The receipt to the sender, in Chinese: what was filed in which case (each document
    with its SHA-256, to check against what was sent), and what was not, and why."""
    case = filed.case
    address = f"{case.tracking_code}@{settings.court_mail_domain}"
    label = case.number or f"登记号 {case.tracking_code}"
    lines = [
        f"{filed.sender}：",
        "",
        f"{settings.court_name}诉调对接中心电子邮箱（{address}）已收到您的邮件"
        f"「{filed.subject or '（无主题）'}」，已记入案件 {label}（{case.cause}）。",
        "",
    ]
    if filed.documents:
        lines.append("已归入电子卷宗的附件：")
        for doc in filed.documents:
            lines.append(f"  {doc.filename}（{_size(doc.size)}）SHA-256 {doc.sha256}")
    elif not filed.not_kept:
        lines.append("邮件没有附件；邮件正文已记入案件记录。")
    if filed.not_kept:
        lines += ["", "未归档的附件："]
        lines += [f"  {name}：{NOT_KEPT_ZH[why]}" for name, why in filed.not_kept]
        lines.append("请将材料转为 PDF、JPEG 或 PNG 后重新发送。")
    lines += ["", "本邮件由系统自动发送，请勿直接回复。"]
    mail = EmailMessage()
    mail["From"] = formataddr((settings.court_name, settings.mail_from))
    mail["To"] = filed.sender
    mail["Subject"] = f"【{settings.court_name}】电子邮箱回执 {label}"
    mail["Message-ID"] = make_msgid(domain=settings.court_mail_domain)
    if received.get("Message-ID"):
        mail["In-Reply-To"] = str(received["Message-ID"])
    mail.set_content("\n".join(lines))
    return mail
