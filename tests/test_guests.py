"""Joint mediation (联调): guests invited by link with their organisation and role; in the live
room over the real WebSocket (roster, caucus rooms the host allows, an interpreter following
their party); in the recording's manifest; named in the agreement."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from sqlalchemy import select

from recordings import paths
from server.models.recordings import Recording
from server.models.sessions import SessionGuest
from server.web.keys import SESSIONMAKER, SETTINGS
from signaling import protocol as p
from signaling.browser_messages import parse_client
from signaling.guests import Guest
from signaling.rooms import Room
from signaling.server_messages import Ack, Bye, Error, State, Welcome
from tests.agreement_helpers import TERMS, bearer, build_world
from tests.helpers import csrf, login
from tests.test_signaling_ws import WsPeer, host_and_party
from tests.waiting import wait_for

POLICE = {"name": "李警官", "organisation": "平潭派出所", "role": "police"}


async def invite_guest(client, session_id: int, auth: dict[str, str], **body: Any) -> Any:
    resp = await client.post(
        f"/api/v1/sessions/{session_id}/guests", json={**POLICE, **body}, headers=auth
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def _host_auth(client) -> dict[str, str]:
    """The logged-in host's cookie (``host_and_party`` logs in as "med") with its CSRF."""
    return {"X-CSRF-Token": csrf(client)}


# --- inviting ----------------------------------------------------------------------------


async def test_invite_a_guest_by_the_api_and_the_page(client):
    w = await build_world(client)
    auth = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    out = await invite_guest(client, w.session_id, auth, may_caucus=True)
    assert out["name"] == "李警官" and out["organisation"] == "平潭派出所"
    assert out["role"] == "police" and out["may_caucus"] is True
    assert out["invite"]["kind"] == "guest" and out["invite"]["party_id"] is None
    assert out["invite"]["url"].endswith(f"/join/{out['invite']['token']}")
    # An interpreter names the party they serve; another case's party, or a non-interpreter
    # serving anyone, is refused.
    resp = await client.post(
        f"/api/v1/sessions/{w.session_id}/guests",
        json={**POLICE, "serves_party_id": w.applicant_id},
        headers=auth,
    )
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "bad_serves"
    interpreter = await invite_guest(
        client, w.session_id, auth, name="Anna Li", organisation="外事办", role="interpreter",
        serves_party_id=w.applicant_id,
    )  # fmt: skip
    assert interpreter["serves_party_id"] == w.applicant_id
    listed = await (
        await client.get(f"/api/v1/sessions/{w.session_id}/guests", headers=auth)
    ).json()
    assert [g["name"] for g in listed] == ["李警官", "Anna Li"]

    # The session page's form (邀请联调人员), then the page lists the guest with the link.
    await login(client, "med")
    page = await (await client.get(f"/sessions/{w.session_id}")).text()
    assert "邀请联调人员" in page and "平潭派出所" in page
    resp = await client.post(
        f"/sessions/{w.session_id}/guests",
        data={"csrf_token": csrf(client), "name": "周调解", "organisation": "平潭街司法所",
              "role": "peoples_mediator", "serves_party_id": ""},
        allow_redirects=False,
    )  # fmt: skip
    assert resp.status == 303
    page = await (await client.get(f"/sessions/{w.session_id}")).text()
    assert "周调解" in page and "平潭街司法所" in page and "人民调解员" in page
    async with client.app[SESSIONMAKER]() as db:
        row = await db.scalar(select(SessionGuest).where(SessionGuest.name == "周调解"))
        assert row is not None and row.may_caucus is False  # the host has not decided yet
    # The guest's link opens the session's page (the pre-join) without an account.
    async with aiohttp.ClientSession() as anon:
        landing = await anon.get(client.make_url(f"/join/{out['invite']['token']}"))
        assert landing.status == 200
        assert '"guest": true' in await landing.text()


# --- the live room -----------------------------------------------------------------------


def _person(state: State, name: str) -> Any:
    return next(x for x in state.people if x.name == name)


async def _admitted(host: WsPeer, peer: WsPeer, name: str) -> Welcome:
    """``peer`` says hello as ``name`` and the host admits them to the main room."""
    if peer.ws is None:
        await peer.connect()
    await peer.send("hello", name=name)
    w = await peer.wait(lambda m: isinstance(m, Welcome))
    await host.wait(lambda m: isinstance(m, State) and any(x.pid == w.pid for x in m.people))
    assert isinstance(await host.reply("admit", pid=w.pid), Ack)
    await peer.wait(lambda m: isinstance(m, State) and m.you.place == "main")
    return w


async def test_a_guest_joins_and_enters_caucus_only_when_the_host_allows(client):
    async with host_and_party(client) as (host, party, sid, _case_id):
        await host.hello()
        guest = await invite_guest(client, sid, await _host_auth(client))
        url = client.make_url(f"/ws/sessions/{sid}?invite={guest['invite']['token']}")
        async with aiohttp.ClientSession() as anon:
            g = WsPeer(anon, str(url))
            try:
                await g.connect()
                refused = await g.reply("hello", name="张三")  # a guest says who they are
                assert isinstance(refused, Error) and refused.code == p.NAME_MISMATCH
                gw = await _admitted(host, g, "李警官")
                assert gw.role == "guest"
                # The roster names the guest with their organisation and role, for everyone.
                state = await host.wait(
                    lambda m: isinstance(m, State) and any(x.pid == gw.pid and x.place == "main"
                                                           for x in m.people)
                )  # fmt: skip
                me = _person(state, "李警官")
                assert (me.role, me.organisation, me.guest_role) == (
                    "guest",
                    "平潭派出所",
                    "police",
                )
                assert me.may_caucus is False
                # Not the host's controls, not their own caucus decision.
                answer = await g.reply("guest.caucus", pid=gw.pid, allow=True)
                assert isinstance(answer, Error) and answer.code == p.NOT_ALLOWED
                # The host may not move them into a private room until allowing it.
                answer = await host.reply("move", pid=gw.pid, room="caucus-1")
                assert isinstance(answer, Error) and answer.code == p.CAUCUS_NOT_ALLOWED
                assert "李警官" in answer.message
                assert isinstance(await host.reply("guest.caucus", pid=gw.pid, allow=True), Ack)
                assert isinstance(await host.reply("move", pid=gw.pid, room="caucus-1"), Ack)
                await g.wait(lambda m: isinstance(m, State) and m.you.place == "caucus-1")
                assert g.last(State).you.may_caucus is True

                async def kept() -> bool:
                    async with client.app[SESSIONMAKER]() as db:
                        row = await db.get(SessionGuest, guest["id"])
                        return row is not None and row.may_caucus is True

                await _until(kept)
                # Withdrawn while there: back to the main room at once.
                assert isinstance(await host.reply("guest.caucus", pid=gw.pid, allow=False), Ack)
                await g.wait(lambda m: isinstance(m, State) and m.you.place == "main"
                             and m.you.may_caucus is False)  # fmt: skip
                # Only a guest's access is decided this way.
                pw = await _admitted(host, party, "张三")
                answer = await host.reply("guest.caucus", pid=pw.pid, allow=True)
                assert isinstance(answer, Error) and answer.code == p.BAD_STATE
            finally:
                await g.close()


async def test_an_interpreter_follows_their_party_into_caucus_and_back(client):
    async with host_and_party(client) as (host, party, sid, case_id):
        await host.hello()
        auth = await _host_auth(client)
        parties = await (await client.get(f"/api/v1/cases/{case_id}", headers=auth)).json()
        zhang = next(x["id"] for x in parties["parties"] if x["name"] == "张三")
        guest = await invite_guest(
            client, sid, auth, name="王手语", organisation="平潭区残联", role="sign_interpreter",
            serves_party_id=zhang,
        )  # fmt: skip
        url = client.make_url(f"/ws/sessions/{sid}?invite={guest['invite']['token']}")
        async with aiohttp.ClientSession() as anon:
            i = WsPeer(anon, str(url))
            try:
                await i.connect()
                iw = await _admitted(host, i, "王手语")
                pw = await _admitted(host, party, "张三")
                # Not allowed into private rooms: the party is not taken there without them.
                answer = await host.reply("move", pid=pw.pid, room="caucus-2")
                assert isinstance(answer, Error) and answer.code == p.CAUCUS_NOT_ALLOWED
                assert "王手语" in answer.message and "张三" in answer.message
                assert isinstance(await host.reply("guest.caucus", pid=iw.pid, allow=True), Ack)
                assert isinstance(await host.reply("move", pid=pw.pid, room="caucus-2"), Ack)
                await i.wait(lambda m: isinstance(m, State) and m.you.place == "caucus-2")
                state = await party.wait(
                    lambda m: isinstance(m, State) and m.you.place == "caucus-2"
                    and any(x.pid == iw.pid for x in m.people)
                )  # fmt: skip
                assert {x.name for x in state.people} == {"张三", "王手语"}
                # Brought back, the interpreter comes back with them.
                assert isinstance(await host.reply("move", pid=pw.pid, room="main"), Ack)
                await i.wait(lambda m: isinstance(m, State) and m.you.place == "main")
            finally:
                await i.close()


async def _until(check: Any) -> None:
    """Wait for an async condition (what the database or the disk says after the room's
    background work)."""
    await wait_for(check, 30)


# --- the recording -----------------------------------------------------------------------


async def test_the_recordings_manifest_says_who_the_guest_is(client):
    async with host_and_party(client) as (host, _party, sid, _case_id):
        await host.hello()
        guest = await invite_guest(client, sid, await _host_auth(client), role="labour_inspector",
                                   organisation="平潭区劳动监察大队")  # fmt: skip
        url = client.make_url(f"/ws/sessions/{sid}?invite={guest['invite']['token']}")
        async with aiohttp.ClientSession() as anon:
            g = WsPeer(anon, str(url), media=True)
            try:
                await g.connect()
                await _admitted(host, g, "李警官")

                async def guest_recorded() -> bool:
                    async with client.app[SESSIONMAKER]() as db:
                        rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
                        return rec is not None and any(
                            s.identity == f"guest:{guest['id']}" for s in rec.segments
                        )

                await _until(guest_recorded)
                await host.reply("end")
                await g.wait(lambda m: isinstance(m, Bye))
            finally:
                await g.close()
    manifest_path = paths.session_dir(client.app[SETTINGS], sid) / paths.MANIFEST

    async def sealed() -> bool:
        return manifest_path.exists()

    await _until(sealed)
    manifest = json.loads(manifest_path.read_bytes())
    entry = next(x for x in manifest["participants"] if x["identity"] == f"guest:{guest['id']}")
    assert entry == {
        "identity": f"guest:{guest['id']}",
        "name": "李警官",
        "organisation": "平潭区劳动监察大队",
        "role": "labour_inspector",
    }


# --- the agreement -----------------------------------------------------------------------


async def test_the_agreement_names_the_guests_who_do_not_sign(client):
    w = await build_world(client)
    auth = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    await invite_guest(client, w.session_id, auth)
    gone = await invite_guest(client, w.session_id, auth, name="赵某", organisation="某所",
                              role="other")  # fmt: skip
    revoked = await client.delete(
        f"/api/v1/sessions/{w.session_id}/invites/{gone['invite']['id']}", headers=auth
    )
    assert revoked.status == 200 and (await revoked.json())["kind"] == "guest"
    resp = await client.post(
        f"/api/v1/cases/{w.case_id}/agreement", json={"terms": TERMS}, headers=auth
    )
    assert resp.status == 201, await resp.text()
    agreement = await resp.json()
    html = await (
        await client.get(f"/api/v1/agreements/{agreement['id']}/document", headers=auth)
    ).text()
    assert "参加联合调解人员：李警官（平潭派出所民警）。" in html
    assert "赵某" not in html  # their link was withdrawn: not a participant
    assert "李警官（签名）" not in html and "民警（签名）" not in html  # guests do not sign


# --- the room alone ----------------------------------------------------------------------


def test_a_guest_and_the_hosts_decision_survive_a_handover_and_a_resume():
    """Another node taking the room over (``snapshot``/``restore``) keeps who the guest is
    and what the host decided; so does the guest resuming their place."""
    room = Room()
    host, _, _ = room.join("user:1", "王", "host")
    guest, _, _ = room.join(
        "guest:7", "李警官", "guest", via="invite:9",
        guest=Guest(7, "平潭派出所", "police", may_caucus=False),
    )  # fmt: skip
    room.handle(host.pid, parse_client(json.dumps({"v": 1, "type": "admit", "pid": guest.pid})))
    room.handle(
        host.pid,
        parse_client(json.dumps({"v": 1, "type": "guest.caucus", "pid": guest.pid, "allow": True})),
    )
    taken = Room()
    taken.restore(json.loads(json.dumps(room.snapshot())))
    again = taken.members[guest.pid]
    assert again.guest == Guest(7, "平潭派出所", "police", may_caucus=True)
    # Back by their link within the window: the link's own flag (not allowed) does not
    # undo the host's decision.
    back, resumed, _ = taken.join(
        "guest:7", "李警官", "guest", again.resume, via="invite:9",
        guest=Guest(7, "平潭派出所", "police", may_caucus=False),
    )  # fmt: skip
    assert resumed and back.place == "main" and back.guest is not None
    assert back.guest.may_caucus is True
    assert back.out().organisation == "平潭派出所" and back.out().guest_role == "police"
