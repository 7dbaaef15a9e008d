"""Invite links: signed, per party per session, expiring and revocable (server.sessions)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from server.context import Actor
from server.errors import AppError, Conflict, Forbidden, Invalid, NotFound
from server.models.accounts import Office
from server.models.audit import AuditEntry
from server.models.base import utcnow
from server.models.docket import Case, Party
from server.models.sessions import Invite, MediationSession
from server.sessions import (
    create_invite,
    create_session,
    end_session,
    parse_invite_token,
    revoke_invite,
    verify_invite,
)
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import make_user, unit


async def make_case(client, *, office: str = "center", mediator_id=None, judge_id=None) -> int:
    async with client.app[SESSIONMAKER]() as db:
        office_row = await db.scalar(select(Office).where(Office.code == office))
        case = Case(
            cause="民间借贷纠纷",
            office_id=office_row.id,
            mediator_id=mediator_id,
            judge_id=judge_id,
            stage="pre_litigation_mediation",
        )
        case.parties = [
            Party(side="applicant", name="张三"),
            Party(side="respondent", name="李四"),
        ]
        db.add(case)
        await db.commit()
        return case.id


async def _setup(client):
    mediator = await make_user(client, "med", "mediator")
    case_id = await make_case(client, mediator_id=mediator.id)
    return mediator, case_id


async def test_invite_round_trip_and_audit(client):
    mediator, case_id = await _setup(client)
    settings = client.app[SETTINGS]
    async with unit(client.app, mediator) as ctx:
        db = ctx.db
        case = await db.get(Case, case_id)
        session = await create_session(ctx, case, kind="mediation")
        assert session.host_id == mediator.id
        invite, url = await create_invite(ctx, session, case.parties[0])
        await db.commit()
        assert url.startswith("http://127.0.0.1:8080/join/")
        token = url.rsplit("/", 1)[1]
        found = await verify_invite(ctx, token)
        assert found.id == invite.id and found.party.name == "张三"
        # No scheduled end: the link lives invite_hours from creation.
        delta = invite.expires_at - invite.created_at
        assert delta == timedelta(hours=settings.invite_hours)
        actions = list(await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions[-2:] == ["session.create", "invite.create"]


async def test_tampered_token_refused(client):
    mediator, case_id = await _setup(client)
    settings = client.app[SETTINGS]
    async with unit(client.app, mediator) as ctx:
        db = ctx.db
        case = await db.get(Case, case_id)
        session = await create_session(ctx, case, kind="mediation")
        _invite, url = await create_invite(ctx, session, case.parties[1])
        await db.commit()
        token = url.rsplit("/", 1)[1]
        ident, nonce, sig = token.split(".")
        # A signature with one character changed: never the same one (a fixed "AA" at the end
        # was, for one signature in a thousand, the signature itself, and the test failed).
        flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
        for bad in (
            f"{int(ident) + 1}.{nonce}.{sig}",
            f"{ident}.{nonce}x.{sig}",
            f"{ident}.{nonce}.{flipped}",
            "garbage",
            "",
        ):
            with pytest.raises(AppError) as err:
                await verify_invite(ctx, bad)
            assert err.value.code == "invite_invalid", bad
        # A token signed with another secret is refused too.
        other = settings.model_copy(update={"secret_key": "another-secret"})
        with pytest.raises(AppError):
            parse_invite_token(other, token)


async def test_revoked_expired_and_ended_refused(client):
    mediator, case_id = await _setup(client)
    settings = client.app[SETTINGS]
    async with unit(client.app, mediator) as ctx:
        db = ctx.db
        case = await db.get(Case, case_id)
        ends = utcnow() + timedelta(hours=2)
        session = await create_session(
            ctx, case, kind="mediation", starts_at=ends - timedelta(hours=1), ends_at=ends
        )
        inv1, url1 = await create_invite(ctx, session, case.parties[0])
        inv2, url2 = await create_invite(ctx, session, case.parties[1])
        await db.commit()
        assert inv1.expires_at == ends + timedelta(hours=settings.invite_hours)
        await revoke_invite(ctx, inv1)
        await db.commit()
        with pytest.raises(AppError) as err:
            await verify_invite(ctx, url1.rsplit("/", 1)[1])
        assert err.value.code == "invite_revoked"
        token2 = url2.rsplit("/", 1)[1]
        later = replace(ctx, clock=lambda: inv2.expires_at + timedelta(seconds=1))
        with pytest.raises(AppError) as err:
            await verify_invite(later, token2)
        assert err.value.code == "invite_expired"
        await end_session(ctx, session)
        await db.commit()
        with pytest.raises(AppError) as err:
            await verify_invite(ctx, token2)
        assert err.value.code == "session_ended"
        with pytest.raises(Conflict):
            await create_invite(ctx, session, case.parties[1])


async def test_rules_on_who_and_what(client):
    mediator, case_id = await _setup(client)
    other_case_id = await make_case(client, office="center")
    stranger = await make_user(client, "staff_b", "office_staff", office="qiaotou")
    async with unit(client.app, mediator) as ctx:
        db = ctx.db
        as_stranger = ctx.acting_as(Actor.for_user(stranger))
        case = await db.get(Case, case_id)
        other = await db.get(Case, other_case_id)
        # Office staff of another office cannot see the case, so cannot open a session.
        with pytest.raises(NotFound):
            await create_session(as_stranger, case, kind="mediation")
        with pytest.raises(Invalid):
            await create_session(ctx, case, kind="party")
        with pytest.raises(Invalid):
            await create_session(ctx, case, kind="mediation", host_id=stranger.id)
        session = await create_session(ctx, case, kind="mediation")
        # A party of another case cannot be invited into this session.
        with pytest.raises(Invalid):
            await create_invite(ctx, session, other.parties[0])
        with pytest.raises(NotFound):
            await create_invite(as_stranger, session, case.parties[0])
        assert (await db.scalar(select(Invite).limit(1))) is None
        assert isinstance(session, MediationSession)


async def test_only_holders_of_the_links_open_sessions_and_make_links(client):
    """The domain refuses, whatever page or API calls it: a mediator who may see the case but
    is neither assigned nor its host opens no session and makes, revokes no link (403)."""
    mediator, case_id = await _setup(client)
    other = await make_user(client, "med_other", "mediator")
    async with unit(client.app, mediator) as ctx:
        as_other = ctx.acting_as(Actor.for_user(other))
        case = await ctx.db.get(Case, case_id)
        with pytest.raises(Forbidden) as err:
            await create_session(as_other, case, kind="mediation")
        assert err.value.code == "may_not_open_session"
        session = await create_session(ctx, case, kind="mediation")
        invite, _url = await create_invite(ctx, session, case.parties[0])
        with pytest.raises(Forbidden) as err:
            await create_invite(as_other, session, case.parties[1])
        assert err.value.code == "may_not_manage_invites"
        with pytest.raises(Forbidden):
            await revoke_invite(as_other, invite)
        assert invite.revoked_at is None
