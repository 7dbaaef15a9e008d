"""Live-session domain: open a session for a case, invite its parties, revoke, end.

Scheduling (bookings), the case page and the JSON API all create sessions and invites through
these functions, so the rules live in one place:

- a session belongs to one case; whoever may see the case may open one for it (office staff
  only for their own office's cases, via ``server.access``);
- the host is the user given, else the case's assigned judge (hearings) or mediator
  (mediations), else the opener when the opener is a judge or mediator;
- an invite names one party of that case and that session; its link carries a signed token
  ``<invite id>.<nonce>.<HMAC>``; the row decides whether the link still works (revoked,
  expired ``invite_hours`` after the session's scheduled end, or after creation when
  unscheduled; a session that ended or was cancelled lets nobody in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import can_view_case
from server.audit import record
from server.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from server.models.accounts import Role, User
from server.models.base import utcnow
from server.models.docket import Case, Party
from server.models.sessions import Invite, MediationSession, SessionStatus
from server.settings import Settings
from server.web.keys import SETTINGS

KINDS = ("mediation", "hearing")
HOST_ROLES = frozenset({Role.JUDGE, Role.MEDIATOR})
_TOKEN_PURPOSE = b"courtlink-invite-v1:"
LIVE_STATUSES = frozenset({SessionStatus.SCHEDULED, SessionStatus.OPEN})


def _actor(user: User) -> str:
    return f"user:{user.id}:{user.username}"


def _settings(request: web.Request | None, settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    if request is not None:
        return request.app[SETTINGS]
    # A random default secret would mint links that die with the process: refuse instead.
    raise ValueError("pass request= or settings= so links are signed with the court's key")


# --- tokens ------------------------------------------------------------------------------


def _sign(secret: str, payload: str) -> str:
    mac = hmac.new(secret.encode(), _TOKEN_PURPOSE + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def invite_token(settings: Settings, invite: Invite) -> str:
    payload = f"{invite.id}.{invite.nonce}"
    return f"{payload}.{_sign(settings.secret_key, payload)}"


def invite_url(settings: Settings, invite: Invite) -> str:
    return f"{settings.public_url.rstrip('/')}/join/{invite_token(settings, invite)}"


def parse_invite_token(settings: Settings, token: str) -> tuple[int, str]:
    """Check a token's signature and shape; return (invite id, nonce). Raises Unauthorized."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    payload = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(settings.secret_key, payload), parts[2]):
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    return int(parts[0]), parts[1]


async def verify_invite(
    db: AsyncSession, settings: Settings, token: str, *, now: datetime | None = None
) -> Invite:
    """The invite a token names, if its link still works; otherwise a 401/403 naming why."""
    invite_id, nonce = parse_invite_token(settings, token)
    invite = await db.get(Invite, invite_id)
    if invite is None or not hmac.compare_digest(invite.nonce, nonce):
        raise Unauthorized("this invitation link is not valid", code="invite_invalid")
    if invite.revoked_at is not None:
        raise Forbidden("this invitation link has been withdrawn", code="invite_revoked")
    if invite.expires_at <= (now or utcnow()):
        raise Forbidden("this invitation link has expired", code="invite_expired")
    if invite.session.status not in LIVE_STATUSES:
        raise Forbidden("this session has ended", code="session_ended")
    return invite


# --- sessions ----------------------------------------------------------------------------


def is_host(user: User, session: MediationSession) -> bool:
    """The session's host, or the case's assigned judge or mediator (they cover each other)."""
    case = session.case
    return user.id == session.host_id or user.id in (case.mediator_id, case.judge_id)


def may_join(user: User, session: MediationSession) -> bool:
    return user.active and can_view_case(user, session.case)


async def _pick_host(
    db: AsyncSession, actor: User, case: Case, kind: str, host_id: int | None
) -> int | None:
    if host_id is not None:
        host = await db.get(User, host_id)
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
    db: AsyncSession,
    actor: User,
    case: Case,
    *,
    kind: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    host_id: int | None = None,
    record_caucus: bool = True,
    request: web.Request | None = None,
) -> MediationSession:
    """Create a (scheduled) session for ``case``; it opens when its host first joins."""
    if not can_view_case(actor, case):
        raise NotFound(f"case {case.id} not found", code="case_not_found")
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", code="bad_kind")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise Invalid("a session must end after it starts", code="bad_times")
    session = MediationSession(
        case_id=case.id,
        kind=kind,
        status=SessionStatus.SCHEDULED,
        host_id=await _pick_host(db, actor, case, kind, host_id),
        office_id=case.office_id,
        starts_at=starts_at,
        ends_at=ends_at,
        record_caucus=record_caucus,
        created_by_id=actor.id,
    )
    db.add(session)
    await db.flush()
    await db.refresh(session, ["case"])
    await record(
        db,
        "session.create",
        "session",
        session.id,
        request=request,
        actor=_actor(actor),
        case_id=case.id,
        kind=kind,
        host_id=session.host_id,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    return session


async def load_session_for(db: AsyncSession, user: User, session_id: int) -> MediationSession:
    """A session the user may see (its case visible to them), else 404."""
    session = await db.get(MediationSession, session_id)
    if session is None or not may_join(user, session):
        raise NotFound(f"session {session_id} not found", code="session_not_found")
    return session


async def mark_open(db: AsyncSession, session: MediationSession) -> None:
    if session.status == SessionStatus.SCHEDULED:
        session.status = SessionStatus.OPEN
        session.opened_at = utcnow()
        await record(db, "session.open", "session", session.id, actor="system")


async def end_session(
    db: AsyncSession,
    actor: User | None,
    session: MediationSession,
    *,
    request: web.Request | None = None,
) -> None:
    """End a session; its invites stop working. Only a host (or an admin) may end it."""
    if actor is not None and not (is_host(actor, session) or actor.role == Role.ADMIN):
        raise Forbidden("only the session's host may end it", code="not_host")
    if session.status not in LIVE_STATUSES:
        raise Conflict("this session has already ended", code="session_ended")
    session.status = SessionStatus.ENDED
    session.ended_at = utcnow()
    await record(
        db,
        "session.end",
        "session",
        session.id,
        request=request,
        actor=_actor(actor) if actor else "system",
        case_id=session.case_id,
    )


# --- invites -----------------------------------------------------------------------------


async def create_invite(
    db: AsyncSession,
    actor: User,
    session: MediationSession,
    party: Party,
    *,
    request: web.Request | None = None,
    settings: Settings | None = None,
) -> tuple[Invite, str]:
    """A new link for ``party`` into ``session``; returns the row and the full URL."""
    cfg = _settings(request, settings)
    if not may_join(actor, session):
        raise NotFound(f"session {session.id} not found", code="session_not_found")
    if party.case_id != session.case_id:
        raise Invalid("that party is not a party of this session's case", code="wrong_party")
    if session.status not in LIVE_STATUSES:
        raise Conflict("this session has ended", code="session_ended")
    now = utcnow()
    base = max(session.ends_at or now, now)
    invite = Invite(
        session_id=session.id,
        party_id=party.id,
        nonce=secrets.token_urlsafe(16),
        created_at=now,
        expires_at=base + timedelta(hours=cfg.invite_hours),
    )
    db.add(invite)
    await db.flush()
    await db.refresh(invite, ["session", "party"])
    await record(
        db,
        "invite.create",
        "session",
        session.id,
        request=request,
        actor=_actor(actor),
        invite_id=invite.id,
        party_id=party.id,
        expires_at=invite.expires_at,
    )
    return invite, invite_url(cfg, invite)


async def revoke_invite(
    db: AsyncSession, actor: User, invite: Invite, *, request: web.Request | None = None
) -> None:
    if not may_join(actor, invite.session):
        raise NotFound(f"invite {invite.id} not found", code="invite_not_found")
    if invite.revoked_at is not None:
        return
    invite.revoked_at = utcnow()
    await record(
        db,
        "invite.revoke",
        "session",
        invite.session_id,
        request=request,
        actor=_actor(actor),
        invite_id=invite.id,
        party_id=invite.party_id,
    )


async def list_invites(db: AsyncSession, session: MediationSession) -> list[Invite]:
    rows = await db.scalars(
        select(Invite).where(Invite.session_id == session.id).order_by(Invite.id)
    )
    return list(rows)


async def list_sessions(db: AsyncSession, case: Case) -> list[MediationSession]:
    rows = await db.scalars(
        select(MediationSession)
        .where(MediationSession.case_id == case.id)
        .order_by(MediationSession.id.desc())
    )
    return list(rows)
