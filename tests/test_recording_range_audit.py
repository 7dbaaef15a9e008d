"""Every play of a recording file is audited, whatever byte its first request starts at
(finding 15 of issue 12: ``Range: bytes=1-`` fetched nearly the whole file with no audit row).
One row per play: the requests that follow it within ``actions.PLAY_WINDOW`` (a player's
seeks and follow-up ranges) by the same user for the same file are not counted again."""

from __future__ import annotations

from tests.helpers import login
from tests.test_recording_access import _audits, _setup


async def test_a_play_starting_past_byte_0_is_audited(client):
    users, _session_id, seg_id = await _setup(client)
    url = f"/recordings/segments/{seg_id}/play"
    await login(client, users["clerk"].username)
    resp = await client.get(url, headers={"Range": "bytes=1-"})
    assert resp.status == 206 and len(await resp.read()) > 1000
    played = await _audits(client, "recording.played")
    assert len(played) == 1
    assert played[0].actor.startswith(f"user:{users['clerk'].id}:")
    assert played[0].detail["file"] == f"segment:{seg_id}"
    assert played[0].detail["range"] == "bytes=1-"

    # The same play seeking on: not counted again.
    for header in ("bytes=0-99", "bytes=500-", "bytes=-100"):
        assert (await client.get(url, headers={"Range": header})).status == 206
    assert len(await _audits(client, "recording.played")) == 1

    # Another user's play is their own row, however it starts.
    client.session.cookie_jar.clear()
    await login(client, users["judge"].username)
    assert (await client.get(url, headers={"Range": "bytes=100-"})).status == 206
    played = await _audits(client, "recording.played")
    assert len(played) == 2 and played[1].actor.startswith(f"user:{users['judge'].id}:")

    # Downloads are audited every time.
    assert (await client.get(f"/recordings/segments/{seg_id}/download")).status == 200
    assert (
        await client.get(f"/recordings/segments/{seg_id}/download", headers={"Range": "bytes=9-"})
    ).status == 206
    assert len(await _audits(client, "recording.downloaded")) == 2
