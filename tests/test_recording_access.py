"""Who may list, play and download recordings: the access matrix (roles, another office, a
party's invite link), the audit entry for each play and download, range requests, and paths
that try to leave the recordings directory."""

from __future__ import annotations

from sqlalchemy import select

from server.models.audit import AuditEntry
from server.models.docket import Party
from server.models.recordings import RecordingSegment
from server.models.sessions import MediationSession
from server.sessions import create_invite, invite_token
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import login, make_user, unit
from tests.recording_db import recorded_session


async def _audits(client, action: str) -> list[AuditEntry]:
    async with client.app[SESSIONMAKER]() as db:
        rows = await db.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.all())


async def _setup(client, **kw):
    users = {
        "admin": await make_user(client, "adm", "admin"),
        "clerk": await make_user(client, "clk", "clerk"),
        "judge": await make_user(client, "jdg", "judge"),
        "mediator": await make_user(client, "med", "mediator"),
        "other_mediator": await make_user(client, "med2", "mediator"),
        "staff": await make_user(client, "stf", "office_staff", office="shaping"),
        "other_staff": await make_user(client, "stf2", "office_staff", office="caiwa"),
    }
    _, session_id = await recorded_session(
        client,
        people=1,
        seconds=1.0,
        office="shaping",
        mediator_id=users["mediator"].id,
        judge_id=users["judge"].id,
        **kw,
    )
    async with client.app[SESSIONMAKER]() as db:
        seg = await db.scalar(select(RecordingSegment).where(RecordingSegment.kind == "video"))
        assert seg is not None
        return users, session_id, seg.id


async def test_access_matrix_and_audit(client):
    users, session_id, seg_id = await _setup(client)
    expect = {
        "admin": 200,
        "clerk": 200,
        "judge": 200,
        "mediator": 200,
        "other_mediator": 403,
        "staff": 403,
        "other_staff": 404,
    }
    for who, status in expect.items():
        await login(client, users[who].username)
        listing = await client.get(f"/api/v1/sessions/{session_id}/recording")
        page = await client.get(f"/recordings/sessions/{session_id}")
        play = await client.get(f"/recordings/segments/{seg_id}/play")
        download = await client.get(f"/recordings/segments/{seg_id}/download")
        got = (listing.status, page.status, play.status, download.status)
        assert got == (status,) * 4, f"{who}: {got}"
        if status == 200:
            body = await listing.json()
            assert [s["participant"] for s in body["segments"]] == ["张三", "张三"]
            assert "张三" in await page.text()
            data = await download.read()
            assert data[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
            assert "attachment" in download.headers["Content-Disposition"]
    played = await _audits(client, "recording.played")
    downloaded = await _audits(client, "recording.downloaded")
    allowed = [u for who, u in users.items() if expect[who] == 200]
    assert allowed
    assert [a.actor for a in played] == [f"user:{u.id}:{u.username}" for u in allowed]
    assert [a.actor for a in downloaded] == [f"user:{u.id}:{u.username}" for u in allowed]
    assert all(a.detail["file"] == f"segment:{seg_id}" for a in played + downloaded)


async def test_anonymous_and_party_invite_link_get_nothing(client):
    # The session is still open (its recording stopped, its segments complete), so a party
    # holds a working invite link to it.
    users, session_id, seg_id = await _setup(client, status="open", do_seal=False)
    resp = await client.get(f"/api/v1/sessions/{session_id}/recording")
    assert resp.status == 401
    resp = await client.get(f"/recordings/segments/{seg_id}/play", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    # A party who holds a working invite link to this very session.
    async with unit(client.app, users["mediator"]) as ctx:
        session = await ctx.db.get(MediationSession, session_id)
        assert session is not None and session.status == "open"
        party = await ctx.db.scalar(
            select(Party).where(Party.case_id == session.case_id, Party.side == "applicant")
        )
        assert party is not None
        invite, _ = await create_invite(ctx, session, party)
        token = invite_token(client.app[SETTINGS], invite)
    joined = await client.get(f"/join/{token}", allow_redirects=False)
    assert joined.status in (200, 302, 303), joined.status  # the link works
    for path in (
        f"/api/v1/sessions/{session_id}/recording",
        f"/recordings/segments/{seg_id}/play",
        f"/recordings/segments/{seg_id}/download",
        f"/api/v1/sessions/{session_id}/recording/../recording",
    ):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status in (302, 401), (path, resp.status)
    assert await _audits(client, "recording.played") == []


async def test_range_requests_play_and_are_audited_once(client):
    users, _session_id, seg_id = await _setup(client)
    await login(client, users["clerk"].username)
    full = await (await client.get(f"/recordings/segments/{seg_id}/download")).read()
    first = await client.get(f"/recordings/segments/{seg_id}/play", headers={"Range": "bytes=0-99"})
    assert first.status == 206 and await first.read() == full[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(full)}"
    later = await client.get(f"/recordings/segments/{seg_id}/play", headers={"Range": "bytes=100-"})
    assert later.status == 206 and await later.read() == full[100:]
    assert len(await _audits(client, "recording.played")) == 1  # one play, however it seeks


async def test_paths_never_leave_the_recordings_directory(client):
    users, _session_id, seg_id = await _setup(client)
    await login(client, users["admin"].username)
    for path in (
        "/recordings/segments/..%2F..%2Fcourtlink.sqlite3/download",
        "/recordings/segments/%2e%2e/download",
        f"/recordings/segments/{seg_id}%2F..%2F..%2Fkeys/download",
        "/recordings/sessions/..%2F1/composite/download",
    ):
        resp = await client.get(path)
        assert resp.status == 404, (path, resp.status)
    # Even a tampered database row cannot point outside.
    async with client.app[SESSIONMAKER]() as db:
        seg = await db.get(RecordingSegment, seg_id)
        seg.path = "../keys/recordings-ed25519.pem"
        await db.commit()
    resp = await client.get(f"/recordings/segments/{seg_id}/download")
    assert resp.status == 404
    assert b"PRIVATE KEY" not in await resp.read()


async def test_case_page_lists_recordings_for_those_allowed(client):
    users, session_id, _ = await _setup(client)
    async with client.app[SESSIONMAKER]() as db:
        case_id = (await db.get(MediationSession, session_id)).case_id
    await login(client, users["clerk"].username)
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'id="recordings"' in page
    listed = await (await client.get(f"/api/v1/cases/{case_id}/recordings")).json()
    assert [r["session_id"] for r in listed] == [session_id]
    assert listed[0]["participants"] == ["张三"] and listed[0]["sealed"] is True
    assert listed[0]["segments"] == 2 and listed[0]["duration_ms"] >= 900
    client.session.cookie_jar.clear()
    await login(client, users["staff"].username)  # sees the case, not its recordings
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert 'id="recordings"' not in page
    assert (await client.get(f"/api/v1/cases/{case_id}/recordings")).status == 403
