"""Live-session domain: open a session for a case, invite its parties, revoke, end.

Scheduling (bookings), the case page, the JSON API and the room itself create, join and end
sessions through these functions, so the rules live in one place:

- a session belongs to one case; it is opened by those who book it or are assigned to the
  case (``access.can_open_session``), because it carries the parties' invite links;
- the host is the user given, else the case's assigned judge (hearings) or mediator
  (mediations), else the opener when the opener is a judge or mediator;
- an invite names one party of that case and that session; only those who hold the parties'
  credentials (``access.can_manage_invites``) create, revoke or see the links; a link
  carries a signed token ``<invite id>.<nonce>.<HMAC>``; the row decides whether the link
  still works (revoked, expired ``invite_hours`` after the session's scheduled end, or after
  creation when unscheduled; a session that ended or was cancelled lets nobody in).
  ``verify_invite`` is the one check of a link, for joining and for signing the agreement
  alike; a guest's link (joint mediation, ``server.guests``) is an invite too, and opens the
  session only: the party's own routes take ``verify_party_invite``, which refuses it;
- ending a session (``end_session``) is recorded, then the live room is closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from server import audit
from server.access import (
    can_end_session,
    can_manage_invites,
    can_open_session,
    can_view_case,
    may_join,
)
from server.context import Context
from server.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from server.live_access import end_live_access
from server.models.accounts import Role, User
from server.models.docket import Case, Party
from server.models.sessions import Invite, MediationSession, SessionGuest, SessionStatus
from server.settings import Settings

KINDS = ("mediation", "hearing")
HOST_ROLES = frozenset({Role.JUDGE, Role.MEDIATOR})
_TOKEN_PURPOSE = b"courtlink-invite-v1:"
LIVE_STATUSES = frozenset({SessionStatus.SCHEDULED, SessionStatus.OPEN})


class LiveRooms(Protocol):
    """What ending a session asks of the live rooms (signaling's hub is one): tell everyone
    in this session's room that it ended and close their connections."""

    async def end(self, session_id: int) -> None: ...


# --- tokens ------------------------------------------------------------------------------


def _sign(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), _TOKEN_PURPOSE + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def invite_token(settings: Settings, invite: Invite) -> str:
    payload = f"{invite.id}.{invite.nonce}"
    return f"{payload}.{_sign(settings.signing_secret(), payload)}"


def invite_url(settings: Settings, invite: Invite) -> str:
    return f"{settings.public_url.rstrip('/')}/join/{invite_token(settings, invite)}"


def parse_invite_token(settings: Settings, token: str) -> tuple[int, str]:
    """Check a token's signature and shape; return (invite id, nonce). Raises Unauthorized."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(settings.signing_secret(), payload), parts[2]):
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    return int(parts[0]), parts[1]


async def genuine_invite(ctx: Context, token: str) -> Invite:
    """The invite a genuine token names, whether or not its link still works (a page saying
    why a link is dead can name its session); 401 for a token we did not issue."""
    invite_id, nonce = parse_invite_token(ctx.settings, token)
    invite = await ctx.db.get(Invite, invite_id)
    if invite is None or not hmac.compare_digest(invite.nonce, nonce):
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    return invite


async def verify_invite(ctx: Context, token: str, *, after_end: bool = False) -> Invite:
    """The invite a token names, if its link still works; otherwise a 401/403 naming why.

    ``after_end``: the link still opens the agreement once its session has ended (the last
    party may sign after the hearing), never once it was cancelled; every other check holds.
    """
    invite = await genuine_invite(ctx, token)
    if invite.revoked_at is not None:
        raise Forbidden("this invitation link has been withdrawn", code="invite_revoked")
    if invite.expires_at <= ctx.now():
        raise Forbidden("this invitation link has expired", code="invite_expired")
    usable = LIVE_STATUSES | {SessionStatus.ENDED} if after_end else LIVE_STATUSES
    if invite.session.status not in usable:
        raise Forbidden("this session has ended", code="session_ended")
    return invite


async def verify_party_invite(
    ctx: Context, token: str, *, after_end: bool = False
) -> tuple[Invite, Party]:
    """``verify_invite`` for the routes a party's link opens beyond the session (their case
    file, the agreement they sign): a guest's link is refused (403 ``not_a_party_link``),
    as a guest of joint mediation is neither a party nor of the court."""
    invite = await verify_invite(ctx, token, after_end=after_end)
    if invite.party is None:
        raise Forbidden(
            "this link admits a guest to the session; it opens nothing else",
            code="not_a_party_link",
        )
    return invite, invite.party


def party_links(invites: Iterable[Invite]) -> list[tuple[Invite, Party]]:
    """The parties' links among ``invites``, each with its party (a guest's link has none)."""
    return [(i, i.party) for i in invites if i.party is not None]


# --- sessions ----------------------------------------------------------------------------


async def _pick_host(
    ctx: Context, actor: User, case: Case, kind: str, host_id: int | None
) -> int | None:
    if host_id is not None:
        host = await ctx.db.get(User, host_id)
        if host is None or not host.active or host.role not in HOST_ROLES:
            raise Invalid("the host must be an active judge or mediator", code="bad_host")
        return host.id
    assigned = case.judge_id if kind == "hearing" else case.mediator_id
    if assigned is not None:
        return assigned
    if actor.role in HOST_ROLES:
        return actor.id
    return case.mediator_id or case.judge_id


async def create_session(
    ctx: Context,
    case: Case,
    *,
    kind: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    host_id: int | None = None,
    record_caucus: bool = True,
) -> MediationSession:
    """Create a (scheduled) session for ``case``; it opens when its host first joins."""
    actor = ctx.require_user()
    if not can_view_case(actor, case):
        raise NotFound("case {id} not found", code="case_not_found", values={"id": case.id})
    if not can_open_session(actor, case):
        raise Forbidden(
            "only those who book this case's sessions or are assigned to it may open one",
            code="may_not_open_session",
        )
    if kind not in KINDS:
        raise Invalid("kind must be one of {kinds}", code="bad_kind", values={"kinds": list(KINDS)})
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise Invalid("a session must end after it starts", code="bad_times")
    session = MediationSession(
        case=case,  # the row in hand: no reload after the insert
        kind=kind,
        status=SessionStatus.SCHEDULED,
        host_id=await _pick_host(ctx, actor, case, kind, host_id),
        office_id=case.office_id,
        starts_at=starts_at,
        ends_at=ends_at,
        record_caucus=record_caucus,
        created_by_id=actor.id,
        created_at=ctx.now(),
    )
    ctx.db.add(session)
    await ctx.db.flush()
    await audit.record(
        ctx,
        "session.create",
        "session",
        session.id,
        case_id=case.id,
        kind=kind,
        host_id=session.host_id,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    return session


async def load_session_for(ctx: Context, session_id: int) -> MediationSession:
    """A session the acting user may see (its case visible to them), else 404."""
    user = ctx.require_user()
    session = await ctx.db.get(MediationSession, session_id)
    if session is None or not may_join(user, session):
        raise NotFound(
            "session {id} not found", code="session_not_found", values={"id": session_id}
        )
    return session


async def mark_open(ctx: Context, session: MediationSession) -> None:
    """The host has arrived: a scheduled session is open from now on."""
    if session.status == SessionStatus.SCHEDULED:
        session.status = SessionStatus.OPEN
        session.opened_at = ctx.now()
        await audit.record(ctx, "session.open", "session", session.id)


async def end_session(
    ctx: Context, session: MediationSession, *, rooms: LiveRooms | None = None
) -> None:
    """End a session: its invites stop working, and everyone in its room is told and closed.

    Only a host or an admin (``access.can_end_session``) may end it; the system (the room
    itself, when its host ended it there) always may. With ``rooms`` the end is committed
    first, then the room is closed: a party reconnecting in between must already be refused,
    and the recording sealed on the room's close must read the session as ended.
    """
    if ctx.actor.kind != "system" and not can_end_session(ctx.require_user(), session):
        raise Forbidden("only the session's host may end it", code="not_host")
    if session.status not in LIVE_STATUSES:
        raise Conflict("this session has already ended", code="session_ended")
    session.status = SessionStatus.ENDED
    session.ended_at = ctx.now()
    await audit.record(ctx, "session.end", "session", session.id, case_id=session.case_id)
    # Also when ended from outside a request that has the rooms (the CLI, a worker).
    end_live_access(ctx, "ended", session_id=session.id)
    if rooms is not None:
        await ctx.db.commit()
        await rooms.end(session.id)


# --- invites -----------------------------------------------------------------------------


def check_manage_invites(ctx: Context, session: MediationSession) -> None:
    """404 for who may not see the session, 403 for who may see it but not hold the links."""
    user = ctx.require_user()
    if not may_join(user, session):
        raise NotFound(
            "session {id} not found", code="session_not_found", values={"id": session.id}
        )
    if not can_manage_invites(user, session):
        raise Forbidden(
            "only the session's host, the case's assigned staff, the clerks and those who "
            "book the session hand out the parties' links",
            code="may_not_manage_invites",
        )


async def create_invite(
    ctx: Context, session: MediationSession, party: Party
) -> tuple[Invite, str]:
    """A new link for ``party`` into ``session``; returns the row and the full URL."""
    check_manage_invites(ctx, session)
    if party.case_id != session.case_id:
        raise Invalid("that party is not a party of this session's case", code="wrong_party")
    return (await issue_invites(ctx, session, [(party, None)]))[0]


async def create_party_invites(
    ctx: Context, session: MediationSession
) -> dict[int, tuple[Invite, str]]:
    """A new link for every party of the session's case (a booking's), in one flush; by
    party id."""
    check_manage_invites(ctx, session)
    parties = list(session.case.parties)
    issued = await issue_invites(ctx, session, [(p, None) for p in parties])
    return {p.id: pair for p, pair in zip(parties, issued, strict=True)}


async def issue_invite(
    ctx: Context,
    session: MediationSession,
    *,
    party: Party | None = None,
    guest: SessionGuest | None = None,
) -> tuple[Invite, str]:
    """The link row for one party or one guest (the caller checked who may hand it out),
    valid ``invite_hours`` past the session's end; audited. Returns the row and the URL."""
    return (await issue_invites(ctx, session, [(party, guest)]))[0]


async def issue_invites(
    ctx: Context,
    session: MediationSession,
    whom: list[tuple[Party | None, SessionGuest | None]],
) -> list[tuple[Invite, str]]:
    """``issue_invite`` for several at once: the rows go in with one flush (each needs its id
    for its token, and a flush costs a booking more of the server's CPU than the INSERT does
    of the database's)."""
    if session.status not in LIVE_STATUSES:
        raise Conflict("this session has ended", code="session_ended")
    now = ctx.now()
    base = max(session.ends_at or now, now)
    # The relationships set here, not reloaded after the insert: a booking makes one invite
    # per party, and the reload was a joined SELECT each.
    invites = [
        Invite(
            session=session,
            party=party,
            guest=guest,
            nonce=secrets.token_urlsafe(16),
            created_at=now,
            expires_at=base + timedelta(hours=ctx.settings.invite_hours),
        )
        for party, guest in whom
    ]
    ctx.db.add_all(invites)
    await ctx.db.flush()
    for invite in invites:
        await audit.record(
            ctx,
            "invite.create",
            "session",
            session.id,
            invite_id=invite.id,
            **_whom(invite),
            expires_at=invite.expires_at,
        )
    return [(invite, invite_url(ctx.settings, invite)) for invite in invites]


def _whom(invite: Invite) -> dict[str, int | None]:
    """Whom a link admits, as the audit log names it."""
    if invite.guest_id is not None:
        return {"guest_id": invite.guest_id}
    return {"party_id": invite.party_id}


def party_of(session: MediationSession, party_id: int) -> Party:
    """A party of the session's case, else 404."""
    party = next((p for p in session.case.parties if p.id == party_id), None)
    if party is None:
        raise NotFound(
            "party {id} not found in this case", code="party_not_found", values={"id": party_id}
        )
    return party


async def invite_of(ctx: Context, session: MediationSession, invite_id: int) -> Invite:
    """An invite into this session, else 404."""
    invite = await ctx.db.get(Invite, invite_id)
    if invite is None or invite.session_id != session.id:
        raise NotFound("invite not found", code="invite_not_found")
    return invite


async def revoke_invite(ctx: Context, invite: Invite) -> None:
    check_manage_invites(ctx, invite.session)
    if invite.revoked_at is not None:
        return
    invite.revoked_at = ctx.now()
    # Whoever came in by this link leaves the room now, not only at their next connection.
    end_live_access(ctx, "revoked", session_id=invite.session_id, invite_id=invite.id)
    await audit.record(
        ctx,
        "invite.revoke",
        "session",
        invite.session_id,
        invite_id=invite.id,
        **_whom(invite),
    )


async def list_invites(ctx: Context, session: MediationSession) -> list[Invite]:
    """Every link into the session, the parties' and the guests' (``party_links`` picks the
    parties')."""
    rows = await ctx.db.scalars(
        select(Invite).where(Invite.session_id == session.id).order_by(Invite.id)
    )
    return list(rows)


async def list_sessions(ctx: Context, case: Case) -> list[MediationSession]:
    rows = await ctx.db.scalars(
        select(MediationSession)
        .where(MediationSession.case_id == case.id)
        .order_by(MediationSession.id.desc())
    )
    return list(rows)
