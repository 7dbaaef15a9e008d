"""The recording indicator reaches everyone as they arrive in a place, through the real app:
a participant who publishes nothing (no camera, no microphone) still learns, on admission,
that the main room is recorded, and that the lobby is not."""

from __future__ import annotations

import aiohttp

from signaling.server_messages import Ack, Recording
from tests.helpers import login
from tests.test_signaling_ws import WsPeer, _session_with_invites
from tests.waiting import wait_for


def _recording(peer: WsPeer) -> list[bool]:
    return [m.active for m in peer.messages if isinstance(m, Recording)]


async def test_a_silent_participant_is_told_the_room_is_recorded(client):
    _med, _case_id, sid, token = await _session_with_invites(client)
    url = client.make_url(f"/ws/sessions/{sid}")
    await login(client, "med")
    host = WsPeer(client.session, url)  # signaling only: nobody publishes a track
    async with aiohttp.ClientSession() as anon:
        party = WsPeer(anon, f"{url}?invite={token}")
        try:
            await host.hello()

            def host_told() -> bool:
                return _recording(host)[-1:] == [True]

            await wait_for(host_told)
            w = await party.hello(name="张三")
            assert w.place is None
            assert True not in _recording(party)  # the lobby is never recorded
            assert isinstance(await host.reply("admit", pid=w.pid), Ack)

            def party_told() -> bool:
                return _recording(party)[-1:] == [True]

            await wait_for(party_told)
        finally:
            await party.close()
            await host.close()
