"""Screen sharing starts a renegotiation: the browser's first answer may not name an SSRC for
the screen m-line while it has no track (Firefox leaves it out), so the server offers again
when the participant says sharing has started, and the new answer can name it."""

from __future__ import annotations

from signaling import protocol as p
from tests.helpers import login
from tests.sfu_peers import wait_for
from tests.test_signaling_ws import WsPeer, _session_with_invites


async def test_starting_a_screen_share_brings_a_fresh_offer(client):
    _med, _case_id, sid, _token = await _session_with_invites(client)
    await login(client, "med")
    host = WsPeer(client.session, client.make_url(f"/ws/sessions/{sid}"), media=True)
    try:
        await host.hello()
        await host.wait(lambda m: isinstance(m, p.Offer))

        def offers() -> int:
            return sum(isinstance(m, p.Offer) for m in host.messages)

        settled = offers()
        ack = await host.reply("media", audio=True, video=True, screen=False)
        assert isinstance(ack, p.Ack)
        assert offers() == settled  # toggling the microphone or camera needs no new offer
        assert isinstance(await host.reply("media", audio=True, video=True, screen=True), p.Ack)

        def offered_again() -> bool:
            return offers() > settled

        await wait_for(offered_again)
        again = offers()
        # still sharing: no further offer
        assert isinstance(await host.reply("media", audio=False, video=True, screen=True), p.Ack)
        assert offers() == again
    finally:
        await host.close()
