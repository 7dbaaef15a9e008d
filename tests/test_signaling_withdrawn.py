"""Access withdrawn while someone is in the room, through the real app and real WebSocket
clients: an invite revoked (also after its party's tab closed), an account deactivated, the
session ended outside the room, a booking cancelled or moved away. Each ends only the ones it
concerns, with a ``bye`` naming why; the others in the room are still served. The live room
is ``tests/test_signaling_abuse.py``'s ``Room``."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from server.accounts import update_user
from server.models.accounts import User
from server.models.sessions import Invite, MediationSession
from server.sessions import create_invite, end_session, revoke_invite
from signaling.server_messages import Bye, State, Welcome
from tests.helpers import make_user, unit
from tests.test_booking_support import MONDAY, World, local, start_world
from tests.test_signaling_abuse import Room, byes, open_room, pinged, still_served
from tests.test_signaling_ws import WsPeer


@pytest.fixture
async def room(client):
    async with open_room(client) as r:
        yield r


# --- access withdrawn while in the room ----------------------------------------------------


async def test_revoking_the_invite_sends_the_party_away(room: Room):
    async with unit(room.client.app, room.med) as ctx:
        invite = await ctx.db.get(Invite, room.invite_id)
        await revoke_invite(ctx, invite)
    bye = await room.party.wait(lambda m: isinstance(m, Bye))
    assert bye.reason == "revoked"
    await room.host.wait(
        lambda m: isinstance(m, State) and all(x.pid != room.w.pid for x in m.people)
    )
    assert byes(room.host) == [] and byes(room.staff) == []
    await still_served(room, room.host, room.staff)


async def test_revoking_the_invite_forgets_a_dropped_party_and_their_token(room: Room):
    """A party whose tab closed keeps their place for the resume window; revoking their link
    forgets that place at once, and the token it gave works on no other link of theirs."""
    await room.host.reply("admit", pid=room.w.pid)
    await room.party.close()
    await room.host.wait(
        lambda m: (
            isinstance(m, State) and any(x.pid == room.w.pid and not x.connected for x in m.people)
        )
    )
    async with unit(room.client.app, room.med) as ctx:
        invite = await ctx.db.get(Invite, room.invite_id)
        await revoke_invite(ctx, invite)
        _new, url = await create_invite(ctx, invite.session, invite.party)

    def forgotten(_m: Any) -> bool:  # the host's latest roster no longer has the party
        states = [m for m in room.host.messages if isinstance(m, State)]
        return all(x.pid != room.w.pid for x in states[-1].people)

    await room.host.wait(forgotten)
    again = room.peer(room.http, f"{room.url}?invite={url.rsplit('/', 1)[1]}")
    back = await again.hello(name="张三", resume=room.w.resume)
    assert not back.resumed and back.place is None


async def test_deactivating_an_account_sends_its_connection_away(room: Room):
    admin = await make_user(room.client, "root", "admin")
    async with unit(room.client.app, admin) as ctx:
        user = await ctx.db.get(User, room.staff_user.id)
        await update_user(ctx, user, active=False)
    bye = await room.staff.wait(lambda m: isinstance(m, Bye))
    assert bye.reason == "deactivated"
    assert byes(room.host) == [] and byes(room.party) == []
    await pinged(room.party)


async def test_ending_the_session_outside_the_room_sends_everyone_away(room: Room):
    # Ended as the CLI or a worker would, with no handle on the live rooms.
    async with unit(room.client.app, room.med) as ctx:
        session = await ctx.db.get(MediationSession, room.sid)
        await end_session(ctx, session)
    for peer in (room.host, room.staff, room.party):
        bye = await peer.wait(lambda m: isinstance(m, Bye))
        assert bye.reason == "ended"


# --- bookings ------------------------------------------------------------------------------


@pytest.fixture
async def world(aiohttp_client, app) -> World:
    return await start_world(aiohttp_client, app)


async def _booked_room(world: World, http: aiohttp.ClientSession) -> tuple[dict, WsPeer, WsPeer]:
    resp = await world.book(
        "staff_shaping", "shaping", local(MONDAY, 9, 0), 60, host_id=world.users["med_wang"].id
    )
    assert resp.status == 201, await resp.text()
    booking = dict(await resp.json())
    urls = [i["url"] for i in booking["invites"] if i["url"]]
    assert urls
    url = world.client.make_url(f"/ws/sessions/{booking['session_id']}")
    token = await world.token("med_wang")
    host = WsPeer(http, str(url))
    await host.connect(Authorization=f"Bearer {token}")
    await host.send("hello")
    await host.wait(lambda m: isinstance(m, Welcome))
    party = WsPeer(http, f"{url}?invite={urls[0].rsplit('/', 1)[1]}")
    await party.hello(name="张三")
    await host.wait(lambda m: isinstance(m, State) and m.lobby_count == 1)
    return booking, host, party


async def _change_sends_the_room_away(
    world: World, change: str, body: dict[str, Any], reason: str
) -> None:
    """The office ``change``s (``cancel``, ``move``) a booking with a host and a party in its
    room: the change is accepted and both are sent away with a ``bye`` naming ``reason``."""
    async with aiohttp.ClientSession() as http:
        booking, host, party = await _booked_room(world, http)
        try:
            resp = await world.api(
                "staff_shaping", "POST", f"/scheduling/bookings/{booking['id']}/{change}", json=body
            )
            assert resp.status == 200, await resp.text()
            for peer in (host, party):
                bye = await peer.wait(lambda m: isinstance(m, Bye))
                assert bye.reason == reason
        finally:
            await party.close()
            await host.close()


async def test_cancelling_a_booking_sends_everyone_in_its_room_away(world: World):
    await _change_sends_the_room_away(world, "cancel", {"reason": "双方已自行和解"}, "cancelled")


async def test_moving_a_booking_away_sends_everyone_in_its_room_away(world: World):
    body = {"starts_at": local(MONDAY, 14, 30), "duration_minutes": 60, "reason": "当事人请假"}
    await _change_sends_the_room_away(world, "move", body, "moved")
