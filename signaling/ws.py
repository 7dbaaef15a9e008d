"""The WebSocket endpoint ``/ws/sessions/{session_id}``: who may connect, then the message loop.

Everything about *who* is settled before the upgrade, so a refusal is an ordinary HTTP error
(401/403/404) in the one error model:

- Origin: when the request has one (every browser sends it) it must be the configured
  ``PUBLIC_URL`` origin or the origin the request was served on; this stops another site's
  page from riding a mediator's cookie (cross-site WebSocket hijacking). Non-browser clients
  send none and authenticate with a bearer token;
- caller: a court or office account (session cookie or bearer token) that may see the case,
  or a party or a guest of joint mediation holding a live invite link for *this* session
  (``?invite=<token>``).

After the upgrade the first message must be ``hello``; a party must type their name, checked
against the invited party (or their representative), a guest the name they were invited by.
Every frame is validated by ``signaling.protocol``; a refused one is answered with an
``error`` and the socket stays up, whatever the frame held (binary, not UTF-8, not JSON,
nested or numbered past the limits).
Each socket may send so many frames a second (``signaling.limits``): beyond, frames are
refused unread, and a socket that keeps on is sent away alone (``bye`` ``flood``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from server.access import is_host
from server.context import Actor
from server.errors import AppError, Forbidden, Unauthorized
from server.models.accounts import User
from server.models.base import utcnow
from server.models.docket import Party
from server.models.sessions import INTERPRETERS, Invite, MediationSession, SessionGuest
from server.names import name_matches, normalize_name
from server.sessions import LIVE_STATUSES, load_session_for, mark_open, verify_invite
from server.web.errors import app_error_response
from server.web.keys import COURT, CTX, PARTY, SETTINGS, USER
from server.web.params import path_id
from signaling import protocol as p
from signaling.browser_messages import Hello, Ping, parse_client
from signaling.conn import CLOSE_CODES, Conn
from signaling.guests import Guest
from signaling.hub import HUB, Hub
from signaling.limits import FrameGate
from signaling.remote import ROUTER, Link
from signaling.rooms import GUEST, HOST, STAFF, Role
from signaling.rooms import PARTY as PARTY_ROLE
from signaling.server_messages import Bye, ServerPong

log = logging.getLogger(__name__)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is None:
        return
    allowed = {
        _origin(request.app[SETTINGS].public_url),
        f"{request.scheme}://{request.host}".lower(),
    }
    if origin.lower() not in allowed:
        raise Forbidden("this page may not open a session connection", code="bad_origin")


@dataclass
class Caller:
    identity: str
    name: str
    role: Role
    user_id: int | None = None
    party: Party | None = None
    invite_id: int | None = None
    guest: Guest | None = None

    def name_refused(self, typed: str | None) -> bool:
        """Whether the name typed at ``hello`` is not the invited person's (a link's
        holder must say who they are; an account needs not)."""
        if self.party is not None:
            return not (typed and name_matches(typed, self.party))
        if self.guest is not None:
            return not (typed and normalize_name(typed) == normalize_name(self.name))
        return False


def _guest_caller(invite: Invite, guest: SessionGuest) -> Caller:
    serves = f"party:{guest.serves_party_id}" if guest.role in INTERPRETERS else ""
    room_guest = Guest(
        guest.id, guest.organisation, guest.role, serves if guest.serves_party_id else "",
        guest.may_caucus,
    )  # fmt: skip
    return Caller(f"guest:{guest.id}", guest.name, GUEST, invite_id=invite.id, guest=room_guest)


async def _caller(request: web.Request, session_id: int) -> tuple[MediationSession, Caller]:
    token = request.query.get("invite")
    user = request.get(USER)
    if token:
        invite = await verify_invite(request[CTX], token)
        if invite.session_id != session_id:
            raise Forbidden("this link is for another session", code="invite_wrong_session")
        invite.last_used_at = utcnow()
        session = invite.session
        if invite.guest is not None:
            caller = _guest_caller(invite, invite.guest)
        elif invite.party is not None:
            request[PARTY] = invite.party
            caller = Caller(
                f"party:{invite.party_id}", invite.party.name, PARTY_ROLE, None, invite.party,
                invite.id,
            )  # fmt: skip
    elif user is not None:
        session = await load_session_for(request[CTX], session_id)
        role: Role = HOST if is_host(user, session) else STAFF
        caller = Caller(f"user:{user.id}", user.display_name, role, user.id)
    else:
        raise Unauthorized("log in or use your invitation link", code="login_required")
    if session.status not in LIVE_STATUSES:
        raise Forbidden("this session has ended", code="session_ended")
    return session, caller


async def session_ws(request: web.Request) -> web.StreamResponse:
    try:
        session_id = path_id(request, "session_id", code="session_not_found")
        check_origin(request)
        session, caller = await _caller(request, session_id)
    except AppError as exc:
        # A refused handshake is an HTTP error with its status; never the login redirect
        # the error middleware gives pages.
        return app_error_response(request, exc)
    host = await request[CTX].db.get(User, session.host_id) if session.host_id else None
    host_name = host.display_name if host else ""
    # Do not hold a database transaction open for the life of the socket.
    await request[CTX].db.commit()

    # Text frames come as bytes: a frame that is not UTF-8 is answered ``bad_json`` here
    # (aiohttp would close the socket for it). A frame past the transport's limit closes the
    # socket (1009) unread; up to it, an oversize one is answered ``too_large``.
    ws = web.WebSocketResponse(
        max_msg_size=2 * p.MAX_FRAME_BYTES, heartbeat=HEARTBEAT_TCP, decode_text=False
    )
    await ws.prepare(request)
    hub = request.app[HUB]
    conn = Conn(
        ws,
        identity=caller.identity,
        name=caller.name,
        role=caller.role,
        user_id=caller.user_id,
        party_id=caller.party.id if caller.party else None,
        invite_id=caller.invite_id,
        guest=caller.guest,
        clock=hub.clock,
        abort=lambda: _abort(request),
    )
    gate = FrameGate(hub.frame_limit, hub.clock)
    router = request.app.get(ROUTER)
    link: Link | None = None  # the room is on another node: frames go there
    joined = False
    try:
        async for frame in ws:
            conn.last_seen = hub.clock()
            if conn.closing or frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            verdict = gate.check()
            if verdict == "cut":
                await _flooded(hub, session_id, conn, joined, link)
                continue
            with conn.answering(session_id):
                if verdict == "refuse":
                    raise p.ProtocolError(p.RATE_LIMITED, "too many messages; slow down")
                if frame.type == WSMsgType.BINARY:
                    raise p.ProtocolError(p.BAD_JSON, "send text frames")
                msg = parse_client(frame.data)
                if link is not None:
                    # Checked here, handled there: the room's node parses it again.
                    await link.forward(frame.data.decode())
                elif joined:
                    await hub.on_message(session_id, conn, msg)
                elif isinstance(msg, Ping):
                    conn.send(ServerPong(re=msg.id))
                elif not isinstance(msg, Hello):
                    raise p.ProtocolError(p.NOT_JOINED, "say hello first", msg.id)
                else:
                    if caller.name_refused(msg.name):
                        raise p.ProtocolError(
                            p.NAME_MISMATCH, "the name does not match the invitation", msg.id
                        )
                    if router is not None:
                        link = await router.connect(
                            session_id, conn, host_name=host_name, resume=msg.resume
                        )
                    if link is None:
                        await hub.join(session_id, conn, host_name=host_name, resume=msg.resume)
                    joined = True
                    if conn.role == HOST:
                        await _mark_open(request.app, session_id)
    finally:
        if link is not None:
            await link.close()
            await conn.stop()
        else:
            await hub.disconnect(session_id, conn)
    return ws


def _abort(request: web.Request) -> None:
    """Cut a socket that does not read: its close frame would only queue behind the rest."""
    transport = request.transport
    if transport is not None:
        transport.abort()


async def _flooded(hub: Hub, session_id: int, conn: Conn, joined: bool, link: Link | None) -> None:
    log.warning("sending %s away: flooding session %s", conn.pid or conn.identity, session_id)
    if link is not None:
        await link.close(expel="flood")
    elif joined:
        await hub.expel(session_id, conn, "flood")
    if not conn.closing:  # not joined (or no longer in the room): only the socket to close
        conn.send(Bye(reason="flood"))
        conn.close(CLOSE_CODES["flood"])


HEARTBEAT_TCP = 20.0


async def _mark_open(app: web.Application, session_id: int) -> None:
    async with app[COURT].unit(Actor.system()) as ctx:
        session = await ctx.db.get(MediationSession, session_id)
        if session is not None:
            await mark_open(ctx, session)
