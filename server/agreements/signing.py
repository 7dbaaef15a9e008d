"""Signing: a party (through their invite link, in the session or not) or the mediator puts
a handwritten signature and the typed name on the exact version they were shown.

Refused with a 4xx and nothing written: a stale version or hash (409 ``stale_version``), a
second signature (409 ``already_signed``), the mediator before every party (409
``parties_first``), an image that is not a PNG (422 ``not_png``) or over 1 MB (413), a typed
name that is not the party's (the lobby's rule, ``server.names``), a party signing for
another (403 ``not_your_party``), and anyone but the party themselves acting through their
own link, a court account above all (403 ``court_account``, ``access.can_sign_as_party``).
When the mediator signs, last, the agreement is sealed and the case recorded as mediated.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.access import can_sign_as_party, is_agreement_mediator
from server.agreements import sealing
from server.agreements.drafting import current_version, signatures_of
from server.context import Context
from server.docket.cases import transition
from server.docket.stages import allowed_moves
from server.errors import Conflict, Forbidden, Invalid, PayloadTooLarge
from server.models.agreements import Agreement, AgreementSignature, SealedDocument
from server.models.docket import Party, Stage
from server.names import name_matches

log = logging.getLogger(__name__)
MAX_SIGNATURE_BYTES = 1_048_576
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class SignRequest:
    version_id: int
    content_hash: str
    typed_name: str
    image_png: bytes
    session_id: int | None = None


def check_png(data: bytes) -> None:
    if len(data) > MAX_SIGNATURE_BYTES:
        raise PayloadTooLarge("the signature image is larger than 1 MB", code="signature_too_large")
    # A PNG starts with its magic and an IHDR chunk of 13 bytes with a non-zero size.
    if len(data) < 33 or not data.startswith(PNG_MAGIC) or data[12:16] != b"IHDR":
        raise Invalid("the signature image must be a PNG", code="not_png")
    width, height = struct.unpack(">II", data[16:24])
    if not (0 < width <= 4000 and 0 < height <= 4000):
        raise Invalid("the signature image has impossible dimensions", code="not_png")


def _check_current(agreement: Agreement, req: SignRequest, current_id: int, digest: str) -> None:
    if agreement.status != "draft":
        raise Conflict("this agreement is already sealed", code="already_sealed")
    if req.version_id != current_id or req.content_hash != digest:
        raise Conflict(
            "the agreement has changed since you opened it; read the current version and "
            "sign again (signatures on earlier versions are void)",
            code="stale_version",
            details={"current_version_id": current_id, "current_hash": digest},
        )


async def _insert(db: AsyncSession, sig: AgreementSignature) -> None:
    try:
        async with db.begin_nested():
            db.add(sig)
            await db.flush()
    except IntegrityError:
        raise Conflict(
            "this version has already been signed by you", code="already_signed"
        ) from None


async def sign_as_party(
    ctx: Context,
    agreement: Agreement,
    party: Party,
    req: SignRequest,
    *,
    claimed_party_id: int | None,
) -> AgreementSignature:
    """``party`` signs the version shown (the caller has checked their invite link and made
    the party the actor: ``server.web.auth.enter_as_party``)."""
    db = ctx.db
    if not can_sign_as_party(ctx.actor, party):
        raise Forbidden(
            "a party signs only through their own invitation link, never with a court "
            "account logged in: log out, or let the party sign on their own device",
            code="court_account" if ctx.actor.kind == "user" else "not_your_party",
        )
    if claimed_party_id is not None and claimed_party_id != party.id:
        raise Forbidden("you may sign only for yourself", code="not_your_party")
    if party.case_id != agreement.case_id:
        raise Forbidden("you are not a party of this agreement", code="not_your_party")
    check_png(req.image_png)
    version = await current_version(db, agreement)
    _check_current(agreement, req, version.id, version.content_hash)
    existing = await signatures_of(db, version.id)
    if any(s.party_id == party.id for s in existing):
        raise Conflict("you have already signed this version", code="already_signed")
    typed = req.typed_name.strip()
    if party.kind == "person" and not name_matches(typed, party):
        raise Invalid(
            "type your full name as it stands in the agreement: {name}",
            code="name_mismatch",
            values={"name": party.name},
        )
    if not typed:
        raise Invalid("type your name", code="name_missing")
    sig = AgreementSignature(
        agreement_id=agreement.id, version_id=version.id, content_hash=version.content_hash,
        role="party", party_id=party.id, typed_name=typed[:128], image_png=req.image_png,
        image_sha256=hashlib.sha256(req.image_png).hexdigest(), session_id=req.session_id,
        address=ctx.actor.address, signed_at=ctx.now(),
    )  # fmt: skip
    await _insert(db, sig)
    await audit.record(
        ctx, "agreement.sign", "agreement", agreement.id,
        role="party", party_id=party.id, version=version.number,
        content_hash=version.content_hash, session_id=req.session_id, address=ctx.actor.address,
    )  # fmt: skip
    return sig


async def sign_as_mediator(
    ctx: Context, agreement: Agreement, req: SignRequest
) -> tuple[AgreementSignature, SealedDocument]:
    """The acting user signs as the agreement's mediator, last; this seals it."""
    user = ctx.require_user()
    db = ctx.db
    case = agreement.case
    if not is_agreement_mediator(user, case, agreement.created_by_id):
        raise Forbidden("only the case's mediator signs the agreement", code="not_mediator")
    check_png(req.image_png)
    version = await current_version(db, agreement)
    _check_current(agreement, req, version.id, version.content_hash)
    existing = await signatures_of(db, version.id)
    if any(s.user_id == user.id for s in existing):
        raise Conflict("you have already signed this version", code="already_signed")
    signed_parties = {s.party_id for s in existing if s.role == "party"}
    missing = [p.id for p in case.parties if p.id not in signed_parties]
    if missing:
        raise Conflict("every party signs before the mediator", code="parties_first",
                       details={"unsigned_party_ids": missing})  # fmt: skip
    if not req.typed_name.strip():
        raise Invalid("type your name", code="name_missing")
    sig = AgreementSignature(
        agreement_id=agreement.id, version_id=version.id, content_hash=version.content_hash,
        role="mediator", user_id=user.id, typed_name=req.typed_name.strip()[:128],
        image_png=req.image_png, image_sha256=hashlib.sha256(req.image_png).hexdigest(),
        session_id=req.session_id, address=ctx.actor.address, signed_at=ctx.now(),
    )  # fmt: skip
    await _insert(db, sig)
    await audit.record(
        ctx, "agreement.sign", "agreement", agreement.id,
        role="mediator", version=version.number, content_hash=version.content_hash,
        session_id=req.session_id, address=ctx.actor.address,
    )  # fmt: skip
    doc = await sealing.seal_agreement(ctx, agreement, version, [*existing, sig])
    await _record_mediated(ctx, agreement)
    return sig, doc


async def _record_mediated(ctx: Context, agreement: Agreement) -> None:
    """A sealed agreement is a successful mediation: move the case on where the stage machine
    lets this mediator (the docket's ``transition``); otherwise leave the stage to the
    docket."""
    case = agreement.case
    if Stage.MEDIATED in allowed_moves(ctx.require_user(), case):
        await transition(ctx, case, Stage.MEDIATED, note="调解协议已签署")
