"""The duty desk's live side: ``/ws/desk``, the socket the center's pages and the office
terminals keep open, and the ``DeskHub`` that tells each of them what to show.

The database is the desk's one state (``server.desk.calls``): who rings is worked out from the
clock, so the hub holds nothing a restart or another cluster node would need. Once a second
while anyone is connected (and at once when a call changes on this node: the court's
``desk`` signal) it brings the calls up to date (``sweep``: missed calls, ended ones), reads
the ringing and live calls in two queries, and sends each socket its view only when that view
changed:

- a judge or mediator: every ringing call, marked ``for_me`` when it rings for them now (their
  turn on the roster has come, or the whole center is rung): their page shows those with a
  sound and a notification, and lists the rest;
- an office terminal: its office's call (ringing with its place in the queue, or answered
  with the room to go to, or recently missed or given up, for a call-back request);
- anyone else of the court: the ringing calls, to see, not to answer.

The socket carries nothing from the browser but pings: accepting and the rest are API calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import select

from server import access
from server.context import Court
from server.db import not_cut_short
from server.desk import calls
from server.errors import AppError, Forbidden, Unauthorized
from server.models.accounts import Office, Role
from server.models.desk import CallStatus, DeskCall
from server.web.errors import app_error_response
from server.web.keys import COURT, CTX, LANG, SUPERVISOR, USER
from signaling.ws import HEARTBEAT_TCP, check_origin

log = logging.getLogger(__name__)
TICK_S = 1.0
# An office terminal is offered a call-back request this long after a call went unanswered.
RECENT = timedelta(minutes=15)


@dataclass(eq=False)
class DeskConn:
    ws: web.WebSocketResponse
    user_id: int
    role: str
    office_id: int
    last: str = ""
    lang: str = "zh"


@dataclass
class Snapshot:
    now: datetime
    period: timedelta
    ringing: list[DeskCall]
    live: list[DeskCall]  # answered, or ended within RECENT (missed, given up, over)
    offices: dict[int, Office] = field(default_factory=dict)


def _call(call: DeskCall, snap: Snapshot, lang: str, position: int = 0) -> dict[str, object]:
    office = snap.offices.get(call.office_id)
    return {
        "id": call.id,
        "status": call.status,
        "office": office.name(lang) if office else "",
        "called_at": call.called_at.isoformat(),
        "position": position,
        "session_id": call.session_id,
        "case_id": call.case_id,
        "callback_requested": call.callback_requested_at is not None,
    }


def view_of(conn: DeskConn, snap: Snapshot) -> dict[str, object]:
    """What one socket's page shows (see the module docstring)."""
    lang = conn.lang
    if conn.role == Role.OFFICE_STAFF:
        mine = [c for c in snap.ringing + snap.live if c.office_id == conn.office_id]
        mine.sort(key=lambda c: c.id, reverse=True)
        current = None
        if mine:
            call = mine[0]
            position = snap.ringing.index(call) + 1 if call in snap.ringing else 0
            current = _call(call, snap, lang, position)
        return {"type": "desk.state", "call": current, "waiting": len(snap.ringing)}
    ringing = []
    for call in snap.ringing:
        # Every page lists every ringing call (a mediator may pick one up before their turn);
        # the banner, the sound and the notification are for those it rings for now.
        whom = calls.ringing_whom(call, snap.now, snap.period)
        for_me = conn.role in access.DUTY and (whom is None or conn.user_id in whom)
        ringing.append({**_call(call, snap, lang), "for_me": for_me, "everyone": whom is None})
    return {"type": "desk.state", "ringing": ringing, "answer": conn.role in access.DUTY}


class DeskHub:
    def __init__(self, court: Court) -> None:
        self.court = court
        self.conns: set[DeskConn] = set()
        self.wake = asyncio.Event()

    def nudge(self) -> None:
        self.wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), TICK_S)
            self.wake.clear()
            if self.conns:
                await self.push()

    async def snapshot(self) -> Snapshot:
        async with self.court.unit() as ctx:
            changed = await calls.sweep(ctx)
            now = ctx.now()
            ringing = await calls.ringing_calls(ctx)
            live = list(
                await ctx.db.scalars(
                    select(DeskCall).where(
                        DeskCall.status != CallStatus.RINGING,
                        (DeskCall.status == CallStatus.ANSWERED)
                        | (DeskCall.ended_at >= now - RECENT),
                    )
                )
            )
            offices = {o.id: o for o in await ctx.db.scalars(select(Office))}
            snap = Snapshot(now, calls.ring_period(ctx), ringing, live, offices)
        if changed:
            self.court.signals.fire("desk")  # the other sockets of this node, at once
        return snap

    async def push(self, only: DeskConn | None = None) -> None:
        # One short transaction (the sweep may write): run to its end even when the hub or
        # the socket's handler is cancelled meanwhile, as at shutdown (``not_cut_short``).
        snap = await not_cut_short(self.snapshot())
        for conn in [only] if only else list(self.conns):
            text = json.dumps(view_of(conn, snap), ensure_ascii=False)
            if text != conn.last and not conn.ws.closed:
                conn.last = text
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.ws.send_str(text)

    async def close(self) -> None:
        # Bounded: a page that neither reads nor answers its close frame (a laptop shut
        # mid-call) must not hold a restart.
        for conn in list(self.conns):
            with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                await asyncio.wait_for(
                    conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server restarting"), 3
                )


DESK = web.AppKey("desk", DeskHub)


async def desk_ws(request: web.Request) -> web.StreamResponse:
    """``/ws/desk``: a logged-in court or office account; the view follows its role."""
    try:
        check_origin(request)
        user = request.get(USER)
        if user is None:
            raise Unauthorized("log in first", code="login_required")
        if not (user.role in access.COURT_WIDE or access.can_place_call(user)):
            raise Forbidden(
                "the duty desk is the center's and the street offices'", code="may_not_view"
            )
    except AppError as exc:
        return app_error_response(request, exc)
    # Do not hold the request's database transaction open for the life of the socket.
    await request[CTX].db.commit()
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_TCP, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[DESK]
    conn = DeskConn(ws, user.id, user.role, user.office_id, lang=request[LANG])
    hub.conns.add(conn)
    try:
        await hub.push(only=conn)
        async for frame in ws:
            if frame.type == WSMsgType.TEXT and frame.data == "ping":
                await ws.send_str('{"type":"pong"}')
    finally:
        hub.conns.discard(conn)
    return ws


async def desk_ctx(app: web.Application) -> AsyncIterator[None]:
    """The desk hub for the app's lifetime, woken by the court's ``desk`` signal."""
    hub = DeskHub(app[COURT])
    app[DESK] = hub
    app[COURT].signals.register("desk", hub.nudge)
    app[SUPERVISOR].start("desk", hub.run)
    yield
    app[COURT].signals.unregister("desk")
    await app[SUPERVISOR].stop_task("desk")


async def going_away(app: web.Application) -> None:
    """``on_shutdown``: the desk's sockets are told to reconnect (1001), not left to time out."""
    hub = app.get(DESK)
    if hub is not None:
        await hub.close()
