"""The media tap (the hub's, for its listeners): every forwarded packet of a publisher in a
room, as sent, with track start/end around room changes; frames rebuilt from the tap equal
the clip's."""

from __future__ import annotations

from signaling.events import PacketSink
from signaling.sfu import FrameAssembler, MediaPacket, Sfu
from tests.media_clips import clip_frames
from tests.sfu_peers import Client, clip_tracks, small_clips
from tests.waiting import wait_for


class RecordingTap:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.packets: dict[str, list[MediaPacket]] = {}

    def on_track_start(
        self, peer_id: str, room: str, track_id: str, kind: str, label: str, codec: str
    ) -> PacketSink:
        self.events.append(("start", peer_id, room, track_id, kind, label, codec))
        return self.packets.setdefault(track_id, []).append

    def on_track_end(self, peer_id: str, track_id: str, reason: str) -> None:
        self.events.append(("end", peer_id, track_id, reason))


async def test_tap_sees_what_is_forwarded_and_track_lifetimes(sfu: Sfu) -> None:
    tap = RecordingTap()
    sfu.add_tap(tap)
    alice = Client(sfu, "alice", clip_tracks())
    try:
        await alice.join()

        def live_in_lobby() -> bool:
            stats = sfu.stats()["alice"]["published"]
            return stats.get("camera", {}).get("packets_in", 0) > 30

        await wait_for(live_in_lobby)
        assert tap.events == []  # the lobby is not recorded

        await sfu.set_room("alice", "main")
        assert ("start", "alice", "main", "alice:camera", "video", "camera", "VP8") in tap.events
        assert ("start", "alice", "main", "alice:audio", "audio", "audio", "opus") in tap.events

        def recorded_enough() -> bool:
            return len(tap.packets["alice:camera"]) > 150

        await wait_for(recorded_enough)
        await sfu.set_room("alice", "caucus-1")
        assert ("end", "alice", "alice:camera", "moved") in tap.events
        assert ("end", "alice", "alice:audio", "moved") in tap.events
        assert tap.events[-1][0] == "start" and tap.events[-1][2] == "caucus-1"

        assembler = FrameAssembler("VP8")
        frames = [
            f.data
            for p in tap.packets["alice:camera"]
            for f in assembler.push(p.sequence_number, p.timestamp, p.marker, p.payload)
        ]
        clip = {data for data, _ in clip_frames(small_clips()["video"])}
        assert len(frames) > 20 and all(frame in clip for frame in frames)
        assert any(p.keyframe for p in tap.packets["alice:camera"])

        sfu.remove_tap(tap)
        before = len(tap.packets["alice:camera"])
        packets_in = sfu.stats()["alice"]["published"]["camera"]["packets_in"]

        def more_media() -> bool:
            return sfu.stats()["alice"]["published"]["camera"]["packets_in"] > packets_in + 100

        await wait_for(more_media)
        assert len(tap.packets["alice:camera"]) <= before + 1
    finally:
        await alice.close()
