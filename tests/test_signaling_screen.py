"""Screen sharing starts a renegotiation: the browser's first answer may not name an SSRC for
the screen m-line while it has no track (Firefox leaves it out), so the server offers again
when the participant says sharing has started, and the new answer can name it."""

from __future__ import annotations

from signaling.server_messages import Ack, Offer
from tests.helpers import login
from tests.test_signaling_ws import WsPeer, _session_with_invites
from tests.waiting import wait_for


async def test_starting_a_screen_share_brings_a_fresh_offer(client):
    _med, _case_id, sid, _token = await _session_with_invites(client)
    await login(client, "med")
    host = WsPeer(client.session, client.make_url(f"/ws/sessions/{sid}"), media=True)
    try:
        await host.hello()

        def offers() -> int:
            return sum(isinstance(m, Offer) for m in host.messages)

        # Joining is two offers: the peer's first, then the one for its place in the main
        # room (queued until the first is answered). Counting after the first alone raced
        # the second.
        def joined_offers() -> bool:
            return offers() >= 2

        await wait_for(joined_offers)
        settled = offers()
        ack = await host.reply("media", audio=True, video=True, screen=False)
        assert isinstance(ack, Ack)
        assert offers() == settled  # toggling the microphone or camera needs no new offer
        assert isinstance(await host.reply("media", audio=True, video=True, screen=True), Ack)

        def offered_again() -> bool:
            return offers() > settled

        await wait_for(offered_again)
        again = offers()
        # still sharing: no further offer
        assert isinstance(await host.reply("media", audio=False, video=True, screen=True), Ack)
        assert offers() == again
    finally:
        await host.close()
