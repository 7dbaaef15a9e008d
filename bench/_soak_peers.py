"""The soak's participants and set-up (``bench/soak.py``): a lean aiortc peer behind the
product's WebSocket, the seed (one mediator and one case with two consenting parties per
room) and the HTTP calls with a bearer token.

``RoomPeer`` is the media benchmark's ``LeanPeer`` (``bench/_media_peers.py``: real ICE, DTLS
and SRTP, a pre-encoded clip replayed through the negotiated session, received packets
counted without decoding) speaking the product's signaling (``signaling/PROTOCOL.md``)
instead of the benchmark shim's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCSessionDescription
from aiortc.sdp import SessionDescription

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _media_peers import LeanPeer  # noqa: E402
from sqlalchemy import select  # noqa: E402

from server.auth import hash_password  # noqa: E402
from server.db import make_engine, make_sessionmaker  # noqa: E402
from server.models.accounts import Office, User  # noqa: E402
from server.models.docket import Case, Consent, Party  # noqa: E402
from server.settings import Settings  # noqa: E402
from signaling.sfu.aiortc_hook.receiving import intercept_rtp  # noqa: E402
from signaling.sfu.aiortc_hook.sending import send_link  # noqa: E402
from signaling.sfu.aiortc_hook.transceivers import dtls_transport, intercept_sender_rtcp  # noqa: E402

PASSWORD = "soak-password-1"
PARTIES = ("张三", "李四", "王五", "赵六")


class RoomPeer(LeanPeer):
    """A lean peer that joins through the product's WebSocket: ``hello``, answers every
    ``offer``, ``pong`` to ``ping``; a host admits whoever waits in the lobby."""

    def __init__(self, peer_id: str, url: str, name: str, host: bool, args: Any, clip: Any):
        super().__init__(peer_id, "", args, clip)
        self.ws_url, self.name, self.host = url, name, host
        self.headers: dict[str, str] = {}
        self.admitted: set[str] = set()
        self.failures: list[str] = []
        self.leaving = False
        self.resume = ""  # a resume token to say hello with (a reconnection)
        self.welcome: dict[str, Any] = {}
        self.closed_at: float | None = None  # monotonic, when its socket closed

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.ws = await session.ws_connect(self.ws_url, headers=self.headers, heartbeat=None)
        hello: dict[str, Any] = {"v": 1, "type": "hello"}
        if not self.host:
            hello["name"] = self.name
        if self.resume:
            hello["resume"] = self.resume
        await self.ws.send_str(json.dumps(hello))
        self.tasks.append(asyncio.create_task(self._signaling()))
        await asyncio.wait_for(self.answered.wait(), 60)
        deadline = time.monotonic() + 60
        while self.link is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.id}: no media connection")
            await asyncio.sleep(0.05)
            self.link = send_link(dtls_transport(self.pc))
        self.tasks.append(asyncio.create_task(self._send_video()))
        self.tasks.append(asyncio.create_task(self._send_audio()))

    async def _send(self, kind: str, **fields: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"v": 1, "type": kind, **fields}))

    async def _signaling(self) -> None:
        assert self.ws is not None
        try:
            async for frame in self.ws:
                msg = json.loads(frame.data)
                kind = msg.get("type")
                if kind == "welcome":
                    self.welcome = msg
                elif kind == "offer":
                    await self._answer(msg)
                elif kind == "ping":
                    await self._send("pong")
                elif kind == "state" and self.host:
                    for person in msg["people"]:
                        if person["place"] is None and person["pid"] not in self.admitted:
                            self.admitted.add(person["pid"])
                            await self._send("admit", pid=person["pid"])
                elif kind in ("bye", "error") and not self.leaving:
                    self.failures.append(json.dumps(msg, ensure_ascii=False))
        finally:
            # Closed by its server, or cut (a node killed; an offer a dying node sent that
            # could not be answered): a reconnecting page would start again from here.
            self.closed_at = time.monotonic()
        if not self.leaving:
            self.failures.append(f"{self.id}: socket closed ({self.ws.close_code})")

    async def _answer(self, offer: dict[str, Any]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        for media in SessionDescription.parse(offer["sdp"]).media:
            info = offer["tracks"].get(media.rtp.muxId)
            if info and media.kind == "video" and media.ssrc:
                self.video_pub[media.ssrc[0].ssrc] = info["pid"]
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self._send("answer", sdp=self.pc.localDescription.sdp)
        if not self.answered.is_set():
            intercept_rtp(dtls_transport(self.pc), self._on_rtp)
            intercept_sender_rtcp(self.pc.getTransceivers()[1].sender, self._on_rtcp)
            self.answered.set()

    async def stop(self) -> None:
        self.leaving = True
        await super().stop()


async def seed(settings: Settings, rooms: int) -> list[dict[str, Any]]:
    """One mediator and one case with two consenting parties per room."""
    engine = make_engine(settings)
    out = []
    try:
        async with make_sessionmaker(engine)() as db:
            office = await db.scalar(select(Office).where(Office.code == "center"))
            assert office is not None
            pw = hash_password(PASSWORD)
            for n in range(rooms):
                med = User(username=f"soak_med{n}", display_name=f"调解员{n}", role="mediator",
                           office_id=office.id, password_hash=pw)  # fmt: skip
                db.add(med)
                await db.flush()
                case = Case(cause="民间借贷纠纷", office_id=office.id, mediator_id=med.id,
                            stage="pre_litigation_mediation")  # fmt: skip
                case.parties = [
                    Party(side=side, name=PARTIES[(n + k) % len(PARTIES)])
                    for k, side in enumerate(("applicant", "respondent"))
                ]
                db.add(case)
                await db.flush()
                for party in case.parties:
                    db.add(Consent(case_id=case.id, party_id=party.id, consents=True))
                out.append({"user": med.username, "case_id": case.id,
                            "parties": [(p.id, p.name) for p in case.parties]})  # fmt: skip
            await db.commit()
    finally:
        await engine.dispose()
    return out


async def api(http: aiohttp.ClientSession, method: str, url: str, token: str, **kw: Any) -> Any:
    async with http.request(
        method, url, headers={"Authorization": f"Bearer {token}"}, **kw
    ) as resp:
        body = await resp.json()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {url}: {resp.status} {body}")
        return body
