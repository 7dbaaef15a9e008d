"""Property-based fuzzing of the signaling WebSocket (hypothesis), through the real app.

A session has a host (the mediator) and a party in its main room, both real aiortc peers
publishing a clip. Each example then opens four more sockets — a second host (the case's
judge), a staff member and the other party, who all say hello, and a staff member who never
does ("lobby") — and sends a random sequence of valid and malformed frames from them. After
every example: nothing escaped (no error logged, no ``internal`` answer), nobody was sent
away or cut off, and every socket still answers a ping. After all of them the two peers
still see and hear each other.

Frames that legitimately send someone away are left out for the host (``end``, ``remove``,
``deny``, ``leave``); the others may send them and are refused. Each socket sends fewer frames
than the rate limit's burst: floods are ``test_signaling_abuse``'s. ``make test`` runs
``SIGNALING_FUZZ_EXAMPLES`` (default 50) derandomized examples; ``make fuzz`` runs many more,
random ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.models.docket import Case
from server.sessions import create_invite, create_session
from signaling import protocol as p
from signaling.server_messages import Bye, Error, ServerPong, Welcome
from tests.helpers import make_user, unit
from tests.test_invites import make_case
from tests.test_signaling_abuse import bearer
from tests.test_signaling_ws import WsPeer
from tests.waiting import wait_for

EXAMPLES = int(os.environ.get("SIGNALING_FUZZ_EXAMPLES", "50"))
ACTORS = ("host", "staff", "party", "lobby")
HOST_ONLY_SAFE = ("admit", "move", "mute_request", "agreement.show")


@dataclass(frozen=True)
class PidRef:
    """A participant named by position, resolved when sent: 0-3 the example's sockets in
    ``ACTORS`` order, 4 a pid nobody has."""

    index: int


@dataclass(frozen=True)
class Frame:
    actor: str
    opcode: WSMsgType
    body: Any  # dict (a message, PidRefs inside), str or bytes (sent as is)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip
pids = st.integers(min_value=0, max_value=4).map(PidRef)
request_ids = (
    st.none()
    | st.integers(min_value=0, max_value=2**53)
    | st.text(max_size=8)
    | st.sampled_from(["\ud800", "x" * 65, "\x00"])  # a lone surrogate, too long, a NUL
)


def messages(actor: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid messages ``actor`` may send (the host nothing that sends anyone away)."""
    common = [
        st.just({"type": "ping"}),
        st.just({"type": "pong"}),
        st.fixed_dictionaries(
            {"type": st.just("media"), "audio": st.booleans(), "video": st.booleans(),
             "screen": st.booleans()}
        ),
        st.fixed_dictionaries(
            {"type": st.just("hello")},
            optional={"name": st.sampled_from(["张三", "李四", "王五"]),
                      "resume": st.text(min_size=8, max_size=16)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("answer"), "sdp": st.sampled_from(["v=0\r\n", "x"]) | st.text(
                min_size=1, max_size=40)}
        ),
        st.fixed_dictionaries({"type": st.sampled_from(["admit", "mute_request"]),
                               "pid": pids}),
        st.fixed_dictionaries(
            {"type": st.just("move"), "pid": pids,
             "room": st.sampled_from(["main", "caucus-a", "caucus-b2"])}
        ),
        st.fixed_dictionaries(
            {"type": st.just("agreement.show"), "agreement_id": st.integers(1, 9)}
        ),
    ]  # fmt: skip
    if actor != "host":
        common.append(
            st.fixed_dictionaries({"type": st.sampled_from(["end", "remove", "deny"])},
                                  optional={"pid": pids})
        )  # fmt: skip
    return st.one_of(common)


def broken(message: dict[str, Any], draw: Any) -> dict[str, Any]:
    """The message with one thing wrong: a field dropped, added or of another type."""
    out = dict(message)
    how = draw(st.sampled_from(["drop", "add", "retype", "version", "type"]))
    keys = [k for k in out if k != "type"]
    if how == "drop" and keys:
        del out[draw(st.sampled_from(keys))]
    elif how == "retype" and keys:
        out[draw(st.sampled_from(keys))] = draw(json_values)
    elif how == "version":
        out["v"] = draw(json_values)
    elif how == "type":
        out["type"] = draw(json_values | st.text(max_size=12))
    else:
        out[draw(st.text(min_size=1, max_size=6))] = draw(json_values)
    return out


RAW = [
    ("[" * 2000 + "]" * 2000, WSMsgType.TEXT),
    ('{"v": 1, "type": "ping", "id": ' + "9" * 5000 + "}", WSMsgType.TEXT),
    ('{"v": 1, "type": "ping", "id": 1e999}', WSMsgType.TEXT),
    ('{"v": 1, "type": "ping", "id": NaN}', WSMsgType.TEXT),
    ("x" * (p.MAX_FRAME_BYTES + 1), WSMsgType.TEXT),
]


@st.composite
def frames(draw: Any) -> Frame:
    actor = draw(st.sampled_from(ACTORS))
    kind = draw(st.sampled_from(["valid", "broken", "text", "bytes", "binary", "raw", "json"]))
    if kind in ("valid", "broken"):
        message = {"v": 1, **draw(messages(actor))}
        rid = draw(request_ids)
        if rid is not None:
            message["id"] = rid
        if kind == "broken":
            message = broken(message, draw)
        return Frame(actor, WSMsgType.TEXT, message)
    if kind == "text":
        return Frame(actor, WSMsgType.TEXT, draw(st.text(max_size=40)))
    if kind == "json":
        return Frame(actor, WSMsgType.TEXT, json.dumps(draw(json_values)))
    if kind in ("bytes", "binary"):
        opcode = WSMsgType.TEXT if kind == "bytes" else WSMsgType.BINARY
        return Frame(actor, opcode, draw(st.binary(max_size=40)))
    if draw(st.integers(0, 3)) == 0:
        depth = draw(st.integers(min_value=p.MAX_DEPTH, max_value=3000))
        return Frame(actor, WSMsgType.TEXT, "[" * depth + "]" * depth)
    text, opcode = draw(st.sampled_from(RAW))
    return Frame(actor, opcode, text)


sequences = st.lists(frames(), min_size=1, max_size=30)


class Fuzz:
    """The session, its two media peers, and the accounts the examples connect as."""

    def __init__(self, client: Any, http: aiohttp.ClientSession) -> None:
        self.client, self.http = client, http
        self.peers: list[WsPeer] = []

    async def open(self) -> None:
        client = self.client
        med = await make_user(client, "med", "mediator", display_name="王调解员")
        judge = await make_user(client, "judge", "judge")
        await make_user(client, "staff", "office_staff")
        await make_user(client, "waiting", "office_staff")
        case_id = await make_case(client, mediator_id=med.id, judge_id=judge.id)
        async with unit(client.app, med) as ctx:
            case = await ctx.db.get(Case, case_id)
            session = await create_session(ctx, case, kind="mediation")
            _i, first = await create_invite(ctx, session, case.parties[0])
            _j, second = await create_invite(ctx, session, case.parties[1])
        self.url = str(client.make_url(f"/ws/sessions/{session.id}"))
        self.invites = [first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]]
        self.tokens = {u: await bearer(client, u) for u in ("med", "judge", "staff", "waiting")}
        self.host = await self.connect(f"Bearer {self.tokens['med']}", media=True)
        await self.host.send("hello")
        self.h = await self.host.wait(lambda m: isinstance(m, Welcome))
        self.party = WsPeer(self.http, f"{self.url}?invite={self.invites[0]}", media=True)
        self.peers.append(self.party)
        self.w = await self.party.hello(name="张三")
        await self.host.reply("admit", pid=self.w.pid)
        await self.flowing()

    async def connect(self, auth: str | None, *, media: bool = False) -> WsPeer:
        peer = WsPeer(self.http, self.url, media=media)
        self.peers.append(peer)
        await peer.connect(**({"Authorization": auth} if auth else {}))
        return peer

    async def flowing(self) -> None:
        """The two peers see each other: more camera packets arrive both ways."""
        host, party = self.host, self.party
        marks = (host.got_from(self.w.pid, "camera"), party.got_from(self.h.pid, "camera"))

        def both_see_each_other() -> bool:
            return (
                host.got_from(self.w.pid, "camera") > marks[0] + 20
                and party.got_from(self.h.pid, "camera") > marks[1] + 20
            )

        await wait_for(both_see_each_other, within=30)

    async def example(self, sequence: list[Frame], log: pytest.LogCaptureFixture) -> None:
        logged = len(log.records)
        actors = {
            "host": await self.connect(f"Bearer {self.tokens['judge']}"),
            "staff": await self.connect(f"Bearer {self.tokens['staff']}"),
            "party": WsPeer(self.http, f"{self.url}?invite={self.invites[1]}"),
            "lobby": await self.connect(f"Bearer {self.tokens['waiting']}"),
        }
        self.peers.append(actors["party"])
        await actors["party"].connect()
        joined: dict[str, str] = {}
        for name in ("host", "staff", "party"):
            await actors[name].send("hello", **({"name": "李四"} if name == "party" else {}))
            joined[name] = (await actors[name].wait(lambda m: isinstance(m, Welcome))).pid
        try:
            for frame in sequence:
                ws = actors[frame.actor].ws
                assert ws is not None
                await ws.send_frame(self.encode(frame, joined), frame.opcode)
            for name, peer in [*actors.items(), ("media host", self.host),
                               ("media party", self.party)]:  # fmt: skip
                assert peer.ws is not None and not peer.ws.closed, (name, peer.ws.close_code)
                # An id no generated frame has: its pong means every frame before was handled.
                rid = f"sync-{len(log.records)}-{name}"
                await peer.ws.send_str(json.dumps({"v": 1, "type": "ping", "id": rid}))
                await peer.wait(lambda m, rid=rid: isinstance(m, ServerPong) and m.re == rid)
                seen = [m for m in peer.messages if isinstance(m, Bye | Error)]
                assert not any(isinstance(m, Bye) for m in seen), (name, seen)
                assert not any(m.code == p.INTERNAL for m in seen if isinstance(m, Error))
                assert not any(m.code == p.RATE_LIMITED for m in seen if isinstance(m, Error))
            failures = [r for r in log.records[logged:] if r.levelno >= logging.ERROR or r.exc_info]
            assert failures == [], [r.getMessage() for r in failures]
        finally:
            for peer in actors.values():
                await peer.close()
                self.peers.remove(peer)

    @staticmethod
    def encode(frame: Frame, joined: dict[str, str]) -> bytes:
        if isinstance(frame.body, bytes):
            return frame.body
        if isinstance(frame.body, str):
            return frame.body.encode()
        pid_of = [joined.get(a, "p" + "0" * 12) for a in ACTORS] + ["p" + "f" * 12]

        def resolve(value: Any) -> Any:
            return pid_of[value.index] if isinstance(value, PidRef) else value

        return json.dumps({k: resolve(v) for k, v in frame.body.items()}).encode()

    async def close(self) -> None:
        for peer in list(self.peers):
            await peer.close()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite"])
# Hypothesis draws in its thread while aiortc, on the app's loop, uses the random module;
# hypothesis sees the global random state move and takes it for the strategies' doing.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
# After 50 examples the room must still forward both ways within 30 s: beside three busy
# workers it did not (two xdist runs of two), alone it does.
@pytest.mark.serial
async def test_random_frames_break_nothing(client, caplog: pytest.LogCaptureFixture):
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        fuzz = Fuzz(client, http)
        try:
            await fuzz.open()
            ran: list[int] = []

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize="SIGNALING_FUZZ_EXAMPLES" not in os.environ,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            )
            @given(sequences)
            def property_(sequence: list[Frame]) -> None:
                ran.append(len(sequence))
                done = asyncio.run_coroutine_threadsafe(fuzz.example(sequence, caplog), loop)
                done.result(timeout=120)

            # Hypothesis drives the examples from a thread; each runs on the app's loop.
            await asyncio.to_thread(property_)
            assert ran and len(ran) >= min(EXAMPLES, 10)
            await fuzz.flowing()  # the room still forwards media, both ways
        finally:
            await fuzz.close()
