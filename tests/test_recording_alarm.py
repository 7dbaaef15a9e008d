"""A disk that fills up during a live session, through the real app: the hub's WebSocket
clients with real aiortc peers publishing media, the app's own recording service. The
recorder's segment files are opened on ``/dev/full``, whose every write the kernel answers
with ENOSPC. The host is told (``error`` ``recording_stopped``), everyone's indicator goes off
(``recording`` active=false), the room keeps forwarding and obeying the host, the database and
the case timeline say why recording stopped, and once there is room again the host starts
recording from the same API the room's button uses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select

from recordings import segments
from recordings.writer import SegmentWriter
from server.live import RECORDINGS
from server.models.audit import AuditEntry
from server.models.docket import DocketEntry
from server.models.recordings import Recording, SegmentStatus
from server.models.sessions import MediationSession
from server.web.keys import SESSIONMAKER
from signaling import server_messages as sm
from tests.helpers import csrf
from tests.test_signaling_ws import WsPeer, host_and_party
from tests.waiting import wait_for


def _full_disk(path: Path, kind: str, **kw: Any) -> SegmentWriter:
    return SegmentWriter(Path("/dev/full"), kind, **kw)


def _recording(peer: WsPeer) -> list[bool]:
    return [m.active for m in peer.messages if isinstance(m, sm.Recording)]


async def test_full_disk_alarms_the_host_and_the_room_goes_on(client, monkeypatch):
    monkeypatch.setattr(segments, "SegmentWriter", _full_disk)
    async with host_and_party(client) as (host, party, sid, case_id):
        h = await host.hello()
        w = await party.hello(name="张三")
        assert isinstance(await host.reply("admit", pid=w.pid), sm.Ack)

        # The first frames written hit the full disk: the host, and only the host, is
        # told why; the host's indicator, on since its tracks started, goes off, and so
        # does the party's (on first too if the party was admitted before the alarm).
        alarm = await host.wait(lambda m: isinstance(m, sm.Error) and m.code == "recording_stopped")
        assert "disk_full" in alarm.message

        def indicators_off() -> bool:
            seen = _recording(host)
            return True in seen and seen[-1] is False and _recording(party)[-1:] == [False]

        await wait_for(indicators_off)
        assert not any(isinstance(m, sm.Error) for m in party.messages)

        # The room goes on: media still flows both ways, the host's controls still work.
        marks = (party.got_from(h.pid, "camera"), host.got_from(w.pid, "camera"))

        def still_forwarding() -> bool:
            return (
                party.got_from(h.pid, "camera") > marks[0] + 20
                and host.got_from(w.pid, "camera") > marks[1] + 20
            )

        await wait_for(still_forwarding)
        assert isinstance(await host.reply("mute_request", pid=w.pid), sm.Ack)
        await party.wait(lambda m: isinstance(m, sm.MuteRequested))
        # Every open track failed at once; the host hears of it once.
        alarms = [m for m in host.messages if isinstance(m, sm.Error)]
        assert [a.code for a in alarms] == ["recording_stopped"]

        # The segments' rows follow the files (each track's batch reports its failure).
        await client.app[RECORDINGS].drain()
        async with client.app[SESSIONMAKER]() as db:
            rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
            assert rec is not None and rec.active is False
            assert rec.alarm is not None and rec.alarm.startswith("disk_full")
            timeline = (
                await db.scalars(
                    select(DocketEntry).where(
                        DocketEntry.case_id == case_id, DocketEntry.kind == "recording_alarm"
                    )
                )
            ).all()
            assert len(timeline) == 1 and timeline[0].data["session_id"] == sid
            assert "disk_full" in timeline[0].text
            audit = await db.scalar(
                select(AuditEntry).where(AuditEntry.action == "recording.alarm")
            )
            assert audit is not None and audit.detail["reason"] == "disk_full"
            assert rec.segments
            for seg in rec.segments:
                assert seg.status == SegmentStatus.FAILED and seg.end_reason == "disk_full"
        page = await (await client.get(f"/cases/{case_id}")).text()
        assert f"会话 #{sid}：录像存储磁盘已满" in page  # the case timeline, in Chinese
        assert "系统 · <strong>录像已自动停止" in page

        # Room on the disk again: the host starts recording from the room (the API its
        # button calls); everyone's indicator comes back and files are written.
        monkeypatch.undo()
        resp = await client.post(
            f"/api/v1/sessions/{sid}/recording",
            json={"active": True},
            headers={"X-CSRF-Token": csrf(client)},
        )
        assert resp.status == 200 and (await resp.json())["alarm"] is None
        for peer in (host, party):

            def indicator_back(peer: WsPeer = peer) -> bool:
                return _recording(peer)[-1] is True

            await wait_for(indicator_back)
        service = client.app[RECORDINGS]

        async def writing() -> bool:
            await service.drain()
            async with client.app[SESSIONMAKER]() as db:
                rec = await db.scalar(select(Recording).where(Recording.session_id == sid))
                assert rec is not None
                return any(s.status == SegmentStatus.RECORDING for s in rec.segments)

        for _ in range(100):  # a new segment opens at the publisher's next keyframe
            if await writing():
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("no segment is being written after recording restarted")

        await host.reply("end")
        await party.wait(lambda m: isinstance(m, sm.Bye))
        async with client.app[SESSIONMAKER]() as db:
            assert (await db.get(MediationSession, sid)).status == "ended"
