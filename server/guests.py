"""Guests of joint mediation (联调): people neither of the court nor parties whom a session's
organisers bring in, with their organisation and role (a people's mediator from the 司法所,
a police officer, a labour inspector, an interpreter, a sign-language interpreter).

- who may invite one: those who hold the session's links (``access.can_invite_guests``);
- a guest gets an ordinary invite link (``server.sessions.issue_invite``): the same token,
  expiry and revocation as a party's, but it opens the session only
  (``server.sessions.verify_party_invite`` refuses it everywhere else);
- an interpreter may name the party they serve (a party of the session's case): in the room
  they follow that party into a caucus room and back (``signaling.guests``);
- whether a guest may enter caucus rooms is the host's to decide: said when inviting
  (default no) and changed live in the room (``guest.caucus``), which ``set_may_caucus``
  keeps for the guest's next connection;
- the agreement names the guests of the case's sessions whose link was not withdrawn
  (``agreement_guests``); they do not sign it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.context import Context
from server.errors import Invalid
from server.models.sessions import (
    INTERPRETERS,
    GuestRole,
    Invite,
    MediationSession,
    SessionGuest,
)
from server.sessions import check_manage_invites, issue_invite

# How the agreement (a Chinese court document) names each role.
ROLE_LABELS_ZH = {
    GuestRole.PEOPLES_MEDIATOR: "人民调解员",
    GuestRole.POLICE: "民警",
    GuestRole.LABOUR_INSPECTOR: "劳动监察员",
    GuestRole.INTERPRETER: "翻译",
    GuestRole.SIGN_INTERPRETER: "手语翻译",
    GuestRole.OTHER: "联调人员",
}


async def create_guest(
    ctx: Context,
    session: MediationSession,
    *,
    name: str,
    organisation: str,
    role: str,
    serves_party_id: int | None = None,
    may_caucus: bool = False,
) -> tuple[SessionGuest, Invite, str]:
    """A guest of ``session`` and their link; returns the guest, the invite and its URL."""
    # Those who hand out the parties' links (``access.can_invite_guests`` is that rule).
    check_manage_invites(ctx, session)
    name, organisation = name.strip(), organisation.strip()
    if not name or not organisation:
        raise Invalid("a guest needs a name and an organisation", code="guest_incomplete")
    if role not in set(GuestRole):
        raise Invalid(
            "role must be one of {roles}",
            code="bad_guest_role",
            values={"roles": [str(r) for r in GuestRole]},
        )
    if serves_party_id is not None:
        if role not in INTERPRETERS:
            raise Invalid("only an interpreter serves a party", code="bad_serves")
        if all(p.id != serves_party_id for p in session.case.parties):
            raise Invalid("that party is not a party of this session's case", code="wrong_party")
    guest = SessionGuest(
        session_id=session.id,
        name=name,
        organisation=organisation,
        role=role,
        serves_party_id=serves_party_id,
        may_caucus=may_caucus,
        created_by_id=ctx.require_user().id,
        created_at=ctx.now(),
    )
    ctx.db.add(guest)
    await ctx.db.flush()
    await audit.record(
        ctx, "guest.create", "session", session.id,
        guest_id=guest.id, name=name, organisation=organisation, role=role,
        serves_party_id=serves_party_id, may_caucus=may_caucus,
    )  # fmt: skip
    invite, url = await issue_invite(ctx, session, guest=guest)
    return guest, invite, url


async def list_guests(db: AsyncSession, session: MediationSession) -> list[Invite]:
    """The session's guests, each by their link (``Invite.guest``), in the order invited."""
    rows = await db.scalars(
        select(Invite)
        .where(Invite.session_id == session.id, Invite.guest_id.is_not(None))
        .order_by(Invite.id)
    )
    return list(rows)


async def set_may_caucus(ctx: Context, guest_id: int, allow: bool) -> None:
    """Keep the host's decision made in the room (the live room has applied it already)."""
    guest = await ctx.db.get(SessionGuest, guest_id)
    if guest is None or guest.may_caucus == allow:
        return
    guest.may_caucus = allow
    await audit.record(
        ctx, "guest.caucus", "session", guest.session_id, guest_id=guest.id, may_caucus=allow
    )


async def agreement_guests(db: AsyncSession, case_id: int) -> list[dict[str, Any]]:
    """The guests the agreement names: of every session of the case, whose link was not
    withdrawn, in the order invited; with their organisation and role in Chinese."""
    live_links = select(Invite.guest_id).where(Invite.revoked_at.is_(None))
    rows = await db.execute(
        select(SessionGuest)
        .join(MediationSession, MediationSession.id == SessionGuest.session_id)
        .where(MediationSession.case_id == case_id, SessionGuest.id.in_(live_links))
        .order_by(SessionGuest.id)
    )
    return [
        {
            "name": g.name,
            "organisation": g.organisation,
            "role": ROLE_LABELS_ZH.get(GuestRole(g.role), g.role),
        }
        for g in rows.scalars()
    ]
