"""The typed interface signaling owns (``signaling/events.py``), from a listener's side.

A real hub and SFU with in-process aiortc participants tell a listener, in typed fields,
whose track started or ended in which room, who went where and who ended the session, and
hand it the forwarded packets; the control side sets the recording indicator and asks for
keyframes. Through the app, the recording service records what the interface hands it, and
the host's end from the room ends the session in the database and seals its recording."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from server.live import HUB
from server.models.recordings import Recording
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from signaling import server_messages as sm
from signaling.events import (
    MediaPacket,
    PacketSink,
    Participant,
    PlaceChanged,
    SessionEnded,
    TrackEnded,
    TrackStarted,
)
from signaling.hub import Hub
from signaling.sfu import Sfu
from tests.helpers import api_token, login, make_user
from tests.hub_peers import HubPeer
from tests.recording_db import case_with_session
from tests.sfu_peers import clip_tracks
from tests.waiting import wait_for


class Watcher:
    """A listener that keeps what it is told and counts the packets it is handed."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.packets: dict[tuple[str, str], int] = {}

    def on_track_started(self, event: TrackStarted) -> PacketSink:
        self.events.append(event)
        key = (event.participant.pid, event.source)
        self.packets.setdefault(key, 0)

        def sink(packet: MediaPacket) -> None:
            assert isinstance(packet.payload, bytes) and packet.payload
            self.packets[key] += 1

        return sink

    def on_track_ended(self, event: TrackEnded) -> None:
        self.events.append(event)

    def on_place_changed(self, event: PlaceChanged) -> None:
        self.events.append(event)

    async def on_session_ended(self, event: SessionEnded) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def started(self, who: Participant, room: str) -> set[str]:
        return {e.source for e in self.of(TrackStarted) if e.participant == who and e.room == room}


async def indicator(peer: HubPeer) -> list[bool]:
    """What the peer's recording indicator was set to, in order, once everything sent to it
    so far has arrived (a socket's messages go out in order)."""

    def pongs() -> int:
        return sum(isinstance(m, sm.ServerPong) for m in peer.messages)

    before = pongs()
    await peer.send("ping")
    await wait_for(lambda: pongs() > before)
    return [m.active for m in peer.messages if isinstance(m, sm.Recording)]


async def test_a_listener_hears_tracks_places_and_the_end_in_typed_fields(sfu: Sfu) -> None:
    hub = Hub(sfu, ice_servers=[])
    watcher = Watcher()
    hub.add_listener(watcher)
    hub.start()
    host = HubPeer(hub, 7, name="王调解员", role="host", user_id=3, tracks=clip_tracks())
    party = HubPeer(hub, 7, name="张三", role="party", party_id=5, tracks=clip_tracks())
    try:
        await host.join()
        await party.join()
        me = Participant(host.pid, "王调解员", "host", user_id=3)
        them = Participant(party.pid, "张三", "party", party_id=5)
        assert watcher.of(PlaceChanged) == [
            PlaceChanged(7, me, None, "main"),
            PlaceChanged(7, them, None, None),
        ]

        def host_live() -> bool:
            return watcher.started(me, "main") == {"camera", "microphone"}

        await wait_for(host_live)
        assert TrackStarted(7, "main", me, "camera", "video", "VP8", 90000) in watcher.events
        assert TrackStarted(7, "main", me, "microphone", "audio", "opus", 48000) in watcher.events

        def party_publishing() -> bool:
            published = sfu.stats()[party.conn.peer_id]["published"]
            return published.get("camera", {}).get("packets_in", 0) > 30

        await wait_for(party_publishing)
        assert watcher.started(them, "main") == set()  # the lobby is nobody's room

        def packets_handed() -> bool:
            return watcher.packets[(host.pid, "camera")] > 30

        await wait_for(packets_handed)

        # The control side: the indicator follows each one's place; only hosts hear an alarm.
        assert await indicator(host) == [] and await indicator(party) == []  # nobody said
        hub.set_recorded(7, main=True, caucus=False)
        assert await indicator(host) == [True] and await indicator(party) == [False]
        hub.set_recorded(7, main=True, caucus=False)  # no change: nobody is told again
        assert await indicator(host) == [True] and await indicator(party) == [False]

        await host.send("admit", pid=party.pid)
        assert watcher.events[-1] == PlaceChanged(7, them, None, "main")
        assert await indicator(party) == [False, True]  # told on arrival

        def party_live() -> bool:
            return watcher.started(them, "main") == {"camera", "microphone"}

        await wait_for(party_live)

        await host.send("move", pid=party.pid, room="caucus-1")
        assert watcher.events[-1] == PlaceChanged(7, them, "main", "caucus-1")
        # The track ended in the main room because its participant moved, not stopped.
        assert TrackEnded(7, "main", them, "camera", "moved") in watcher.events
        assert TrackEnded(7, "main", them, "microphone", "moved") in watcher.events
        assert await indicator(party) == [False, True, False]  # caucus rooms are not recorded
        assert await indicator(host) == [True]

        def party_in_caucus() -> bool:
            return watcher.started(them, "caucus-1") == {"camera", "microphone"}

        await wait_for(party_in_caucus)

        requests = sfu.stats()[party.conn.peer_id]["published"]["camera"]["keyframe_requests"]

        def asked_for_keyframe() -> bool:
            hub.request_keyframe(7, party.pid)  # rate-limited: repeats are cheap
            stats = sfu.stats()[party.conn.peer_id]["published"]["camera"]
            return stats["keyframe_requests"] > requests

        await wait_for(asked_for_keyframe)

        hub.set_recorded(7, main=False, caucus=False, alarm="recording stopped (disk_full)")
        assert await indicator(host) == [True, False]
        assert await indicator(party) == [False, True, False]
        alarm = sm.Error(code="recording_stopped", message="recording stopped (disk_full)")
        assert alarm in host.messages and alarm not in party.messages

        mark = len(watcher.events)
        await host.send("end")
        after = watcher.events[mark:]
        # The end comes first (whatever must hold before anyone may rejoin), then every
        # participant leaves their place and every track its room.
        assert after[0] == SessionEnded(7, ended_by=3)
        assert PlaceChanged(7, me, "main", None) in after
        assert PlaceChanged(7, them, "caucus-1", None) in after
        for who, room in ((me, "main"), (them, "caucus-1")):
            for source in ("camera", "microphone"):
                assert TrackEnded(7, room, who, source, "left") in after  # type: ignore[arg-type]

        def both_closed_as_ended() -> bool:
            return host.socket.closed == party.socket.closed == 4005

        await wait_for(both_closed_as_ended)
    finally:
        for peer in (host, party):
            await peer.close()
        await hub.close()


async def test_everyone_is_told_and_closed_before_any_peer_connection_is_taken_down(
    sfu: Sfu,
) -> None:
    """Taking a peer connection down awaits aiortc's close and the others' renegotiation;
    held here until every socket has its goodbye and is closed, as a loaded machine may hold
    it (a CI run saw a bridged party's socket stay open 15 s after its goodbye). Nobody's
    goodbye or close waits behind anyone's media."""
    hub = Hub(sfu, ice_servers=[])
    hub.start()
    taken_down = sfu.remove_peer
    all_closed = asyncio.Event()

    async def slow_to_close(peer_id: str) -> None:
        await all_closed.wait()
        await taken_down(peer_id)

    sfu.remove_peer = slow_to_close  # type: ignore[method-assign]
    host = HubPeer(hub, 7, name="王调解员", role="host", user_id=3, tracks=clip_tracks())
    party = HubPeer(hub, 7, name="张三", role="party", party_id=5, tracks=clip_tracks())
    try:
        await host.join()
        await party.join()
        await host.send("admit", pid=party.pid)

        def both_connected() -> bool:
            return bool(host.conn.peer_id and party.conn.peer_id)

        await wait_for(both_connected)
        ending = asyncio.ensure_future(host.send("end"))

        def both_told_and_closed_as_ended() -> bool:
            told = all(any(isinstance(m, sm.Bye) for m in p.messages) for p in (host, party))
            return told and host.socket.closed == party.socket.closed == 4005

        await wait_for(both_told_and_closed_as_ended)
        all_closed.set()
        await ending
        assert not sfu.stats()  # and the peer connections were taken down after
    finally:
        all_closed.set()
        for peer in (host, party):
            await peer.close()
        await hub.close()


async def test_the_app_records_through_the_interface_and_ends_from_the_room(client) -> None:
    app = client.app
    med = await make_user(client, "med", "mediator", display_name="王调解员")
    _case_id, sid = await case_with_session(client, mediator_id=med.id, status="open")
    async with app[SESSIONMAKER]() as db:
        row = await db.get(MediationSession, sid)
        assert row is not None and row.host_id == med.id  # the assigned mediator hosts it
    hub = app[HUB]
    host = HubPeer(hub, sid, name="王调解员", role="host", user_id=med.id, tracks=clip_tracks())
    party = HubPeer(hub, sid, name="张三", role="party", party_id=5, tracks=clip_tracks())
    try:
        await host.join()
        await party.join()
        await host.send("admit", pid=party.pid)

        async def segments() -> set[tuple[str, str, str, str]]:
            async with app[SESSIONMAKER]() as db:
                rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
                if rec is None:
                    return set()
                return {(s.identity, s.participant, s.room, s.label) for s in rec.segments}

        wanted = {
            (who, name, "main", label)
            for who, name in ((f"user:{med.id}", "王调解员"), ("party:5", "张三"))
            for label in ("camera", "audio")
        }
        for _ in range(150):  # rows follow the files; files begin at a keyframe
            if await segments() == wanted:
                break
            await asyncio.sleep(0.1)
        assert await segments() == wanted
        assert host.messages.count(sm.Recording(active=True)) >= 1

        await host.send("end")
        async with app[SESSIONMAKER]() as db:
            row = await db.get(MediationSession, sid)
            assert row is not None and row.status == "ended"  # recorded before anyone is told

        async def sealed() -> bool:
            async with app[SESSIONMAKER]() as db:
                rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
                return rec is not None and rec.sealed_at is not None

        for _ in range(150):  # sealed in the recorder's own task
            if await sealed():
                break
            await asyncio.sleep(0.1)
        assert await sealed()
    finally:
        for peer in (host, party):
            await peer.close()


async def test_a_segment_closed_by_a_move_says_the_participant_moved(client) -> None:
    """Moving a party into a caucus room closes their main-room segments as ``room_move``
    (not as if their camera had stopped) and opens new ones in the caucus room; the API
    and the recording page say so."""
    app = client.app
    med = await make_user(client, "med", "mediator", display_name="王调解员")
    _case_id, sid = await case_with_session(client, mediator_id=med.id, status="open")
    hub = app[HUB]
    host = HubPeer(hub, sid, name="王调解员", role="host", user_id=med.id, tracks=clip_tracks())
    party = HubPeer(hub, sid, name="张三", role="party", party_id=5, tracks=clip_tracks())

    async def segments() -> list[tuple[str, str, str, str, str]]:
        async with app[SESSIONMAKER]() as db:
            rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
            if rec is None:
                return []
            return sorted(
                (s.identity, s.room, s.label, s.status, s.end_reason) for s in rec.segments
            )

    async def until(wanted: list[tuple[str, str, str, str, str]]) -> None:
        # Rows follow the files, and files begin at a keyframe; a CI run under load once
        # read the main room's segments still open at 15 s, so up to 30 s.
        for _ in range(300):
            if await segments() == wanted:
                return
            await asyncio.sleep(0.1)
        assert await segments() == wanted

    host_rows = [
        (f"user:{med.id}", "main", label, "recording", "") for label in ("audio", "camera")
    ]
    try:
        await host.join()
        await party.join()
        await host.send("admit", pid=party.pid)
        await until(
            sorted(
                host_rows + [("party:5", "main", lb, "recording", "") for lb in ("audio", "camera")]
            )
        )

        await host.send("move", pid=party.pid, room="caucus-1")
        await until(
            sorted(
                host_rows
                + [("party:5", "main", lb, "complete", "room_move") for lb in ("audio", "camera")]
                + [("party:5", "caucus-1", lb, "recording", "") for lb in ("audio", "camera")]
            )
        )

        auth = {"Authorization": f"Bearer {await api_token(client, 'med')}"}
        resp = await client.get(f"/api/v1/sessions/{sid}/recording", headers=auth)
        assert resp.status == 200, await resp.text()
        # The host's main-room rows share room and label with the party's; rows come in
        # the order their files began, which a loaded run can swap, so key by person too.
        reasons = {
            (s["room"], s["label"]): s["end_reason"]
            for s in (await resp.json())["segments"]
            if s["identity"] == "party:5"
        }
        assert reasons[("main", "camera")] == reasons[("main", "audio")] == "room_move"
        await login(client, "med")
        for lang, words in (("zh_CN", "移至其他房间"), ("en", "moved to another room")):
            resp = await client.get(f"/recordings/sessions/{sid}", params={"lang": lang})
            html = await resp.text()
            assert resp.status == 200, html
            assert html.count(words) == 2, (lang, html)  # the party's two main-room files
    finally:
        for peer in (host, party):
            await peer.close()
