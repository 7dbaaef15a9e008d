"""Pages for live sessions: open one from a case, the session page (invite links, guests,
end), and the session app page (pre-join self-test, lobby, room) for staff and, by invite
link, parties and guests of joint mediation.

The app page is one page with three screens, so the camera and microphone that passed the
self-test carry straight into the lobby and the room; ``web/static/js/session.js`` drives it.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from server.access import (
    can_end_session,
    can_manage_invites,
    can_view_documents,
    is_host,
    load_case_for,
)
from server.api.sessions import session_of
from server.bounds import RowId
from server.docket import documents
from server.errors import AppError, Unauthorized
from server.i18n import DEFAULT_LANG
from server.models.accounts import User
from server.models.recordings import Recording
from server.models.sessions import MediationSession
from server.pages import desk_pages, guest_pages
from server.pages.invite_error import invite_error_page
from server.sessions import (
    LIVE_STATUSES,
    create_invite,
    create_session,
    end_session,
    invite_of,
    invite_url,
    list_invites,
    list_sessions,
    party_links,
    party_of,
    revoke_invite,
    verify_invite,
)
from server.web.auth import require_user
from server.web.http import read_form, render, see_other
from server.web.keys import CATALOGS, CTX, LANG, USER
from server.web.params import path_id
from signaling.hub import HUB


class OpenForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["mediation", "hearing"] = "mediation"


class InviteForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_id: RowId


def client_strings(request: web.Request) -> dict[str, str]:
    """Every string the browser client shows, translated for the page's language."""
    _ = request.app[CATALOGS].gettext(request.get(LANG, DEFAULT_LANG))
    return {
        "camera_ok": _("Camera works"),
        "camera_fail": _("No picture from the camera"),
        "mic_ok": _("Microphone works"),
        "mic_fail": _("No sound from the microphone yet: say something"),
        "mic_click": _("The browser needs a click before it can hear you"),
        "test_pass": _("Your camera and microphone work. You can join."),
        "test_fail": _("The self-test did not pass. Check your devices, or join anyway."),
        "no_devices": _("The browser did not allow the camera or microphone"),
        "name_needed": _("Type your full name"),
        "name_mismatch": _(
            "That name does not match the invitation. Type your full name as on your ID."
        ),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "connected": _("Connected"),
        "lobby_wait_host": _("You are in the lobby, waiting for {host} to admit you."),
        "lobby_host_absent": _("{host} has not arrived yet. Please wait here."),
        "lobby_count": _("People waiting in the lobby: {n}"),
        "denied": _("The host did not admit you to this session."),
        "removed": _("The host removed you from this session."),
        "ended": _("The session has ended. You may close this page."),
        "replaced": _("You joined from another window; this one is closed."),
        "left": _("You left the session."),
        "revoked": _("Your invitation link has been withdrawn."),
        "cancelled": _("This session has been cancelled."),
        "moved": _("This session has been moved to another time; see your new notice."),
        "deactivated": _("Your account has been deactivated."),
        "flood": _("Too many messages were sent from this page; it has been disconnected."),
        "mute_asked": _("{name} asks you to mute your microphone."),
        "main_room": _("Main room"),
        "caucus_room": _("Private room {x}"),
        "lobby": _("Lobby"),
        "admit": _("Admit"),
        "deny": _("Deny"),
        "remove": _("Remove"),
        "to_caucus": _("To private room"),
        "bring_back": _("Bring back"),
        "ask_mute": _("Ask to mute"),
        "join_room": _("Go there"),
        "you": _("you"),
        "muted": _("muted"),
        "screen": _("screen"),
        "camera_off": _("camera off"),
        # Simulcast (web/static/js/room_video.js): a camera the link cannot carry, and the
        # participant's own audio-only mode.
        "video_paused": _("Video paused: the connection cannot carry it now"),
        "video_audio_only": _("Audio only"),
        # The pre-join's network check (web/static/js/netprobe.js) and the mode it suggests.
        "net_testing": _("Measuring your connection…"),
        "net_result": _("Connection: down {down}, up {up}"),
        "net_failed": _("The connection could not be measured"),
        "net_suggest_low": _("A weak connection: data saver mode is suggested (smaller video)."),
        "net_suggest_audio": _("A very weak connection: audio only is suggested."),
        "net_use_low": _("Use data saver"),
        "net_use_audio": _("Use audio only"),
        "net_applied": _("Done. In the room, the menu at the top changes it back."),
        "quality_good": _("Connection good"),
        "quality_poor": _("Connection poor"),
        "quality_bad": _("Connection bad"),
        "confirm_end": _("End the session for everyone?"),
        # ROOM-LAYOUT: the in-page confirmations and the lobby arrival toast.
        "end_session": _("End session"),
        "confirm_deny": _("Deny {name}? They will not be admitted to this session."),
        "confirm_remove": _("Remove {name} from the session?"),
        "lobby_arrived": _("{name} is waiting in the lobby."),
        "show_panel": _("Show"),
        "error": _("Error: {why}"),
        "rec_start": _("Start recording"),
        "rec_stop": _("Stop recording"),
        "rec_confirm_stop": _("Stop recording this session? The court's record will have a gap."),
        "rec_failed": _("Recording could not be started or stopped"),
        "rec_alarm": _(
            "Recording has stopped: {reason}. The session goes on, but it is not recorded now."
            " Tell the court's administrator, then start recording again."
        ),
        "rec_disk_full": _("the disk for recordings is full"),
        "rec_write_error": _("the recording could not be written"),
        # The room explains itself (web/static/js/room_status.js): where you are, what
        # happens next, the time waited.
        "lobby_next": _(
            "When the mediator admits you, you will see and hear the others here. You do not"
            " need to do anything until then."
        ),
        "st_main": _("You are in the main room: everyone here can see and hear you."),
        "st_caucus": _(
            "The mediator is speaking with you privately. The other side cannot see or hear"
            " you. Afterwards the mediator will bring you back to the main room."
        ),
        "st_caucus_alone": _(
            "You are in a private room. The mediator will join you here shortly; the other"
            " side cannot see or hear you. Please wait."
        ),
        "st_waiting": _(
            "The mediator is speaking privately with the other side. Please wait: the"
            " mediator will come back to this room, and the session goes on here."
        ),
        "st_host_absent": _(
            "The mediator has stepped away or lost their connection. Please stay here: the"
            " session goes on when the mediator is back."
        ),
        "st_reconnecting": _(
            "Your connection dropped. Reconnecting on its own; your place is kept for a"
            " minute. You do not need to do anything."
        ),
        "st_in_room": _("In this room: {names}"),
        "st_you": _(" (you)"),
        "st_waited": _("Waited so far: {time}"),
        "st_recorded": _("This room is being recorded, sound and picture."),
        "st_not_recorded": _("This room is not being recorded."),
        "dur_seconds": _("{s} s"),
        "dur_minutes": _("{m} min {s} s"),
        # Joint mediation (联调): a guest's tile reads "name · unit · role"; the host lets a
        # guest into private rooms, or not.
        "guest_peoples_mediator": _("People's mediator"),
        "guest_police": _("Police officer"),
        "guest_labour_inspector": _("Labour inspector"),
        "guest_interpreter": _("Interpreter"),
        "guest_sign_interpreter": _("Sign-language interpreter"),
        "guest_other": _("Other guest"),
        "caucus_allow": _("Allow private rooms"),
        "caucus_deny": _("No private rooms"),
        "ended_next": _(
            "What happens next: the court will contact you about the outcome. You may close"
            " this page."
        ),
        # Signaling's refusals by code (signaling/protocol.py): their own messages are the
        # log's English, with names and values in them. A code not listed here is the page
        # and the server not understanding each other (err_protocol).
        "err_not_allowed": _("You may not do that here."),
        "err_no_such_participant": _("That person is no longer in the session."),
        "err_bad_state": _("The room changed before that could be done. Look again and retry."),
        "err_session_ended": _("The session has ended. You may close this page."),
        "err_rate_limited": _("Too many actions at once. Wait a moment and try again."),
        "err_caucus_not_allowed": _(
            "A guest here may not enter private rooms: allow them first in the host panel."
        ),
        "err_internal": _("The server could not do that. Try again."),
        "err_protocol": _(
            "This page and the server did not understand each other. Reload the page."
        ),
    }


async def _recording_config(
    request: web.Request, session: MediationSession, *, is_party: bool
) -> dict[str, Any]:
    """Where the host starts and stops recording, whether it is on now (no row yet: on, as
    every session is recorded from its start), and a standing alarm (the client shows it to
    the host only; a party is not given the server's error text)."""
    rec = await request[CTX].db.scalar(select(Recording).where(Recording.session_id == session.id))
    return {
        "api": f"/api/v1/sessions/{session.id}/recording",
        "active": rec.active if rec is not None else True,
        "alarm": rec.alarm if rec is not None and not is_party else None,
    }


async def _app_page(
    request: web.Request,
    session: MediationSession,
    *,
    ws_url: str,
    is_party: bool,
    resume_key: str,
    documents_base: str,
    probe_url: str,
    is_guest: bool = False,
) -> web.Response:
    """The session app. ``resume_key`` names the link's identity (a party's invite, a staff
    account) under which the browser keeps its resume token (``web/static/js/rejoin.js``), so
    only the same link in the same browser gets a closed tab's place back. A guest of joint
    mediation (``is_guest``) comes by a link as a party does, but gets neither the case
    file nor the agreement (their link opens neither)."""
    host = await request[CTX].db.get(User, session.host_id) if session.host_id else None
    ctx: dict[str, Any] = {
        "session": session,
        "case": session.case,
        "host_name": host.display_name if host else "",
        "is_party": is_party,
        "is_guest": is_guest,
        # By a party's link with no court login: the party chrome (base.html), no staff menu.
        "party_layout": is_party and request.get(USER) is None,
        "config": {
            "ws": ws_url,
            "session": session.id,
            "party": is_party,
            "guest": is_guest,
            "resume_key": resume_key,
            "probe": probe_url,
            "strings": client_strings(request),
            "recording": await _recording_config(request, session, is_party=is_party),
            "documents": {
                "base": documents_base,
                "choices": None if is_party else await _documents_to_show(request, session),
            },
        },
    }
    # A call from a street office's terminal (the duty desk): its registration panel.
    ctx["desk_call"] = await desk_pages.call_panel(request, session)
    return render(request, "session_room.html", ctx)


async def _documents_to_show(
    request: web.Request, session: MediationSession
) -> list[dict[str, Any]] | None:
    """What the host may show the room: the case file's documents (kept ones), newest first
    (the room's page asks for the list again as parties add to it); None for anyone else."""
    user = request.get(USER)
    case = session.case
    if user is None or not is_host(user, session) or not can_view_documents(user, case):
        return None
    docs = await documents.documents_of(request[CTX], case)
    return [{"id": d.id, "label": d.title or d.filename} for d in docs if d.purged_at is None]


async def open_from_case(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    form = await read_form(request, OpenForm)
    session = await create_session(ctx, case, kind=form.kind)
    return see_other(f"/sessions/{session.id}")


async def case_sessions(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    case = await load_case_for(ctx.db, user, path_id(request, "case_id"))
    return render(
        request, "session_list.html", {"case": case, "sessions": await list_sessions(ctx, case)}
    )


async def session_page(request: web.Request) -> web.Response:
    user = require_user(request)
    ctx = request[CTX]
    session = await session_of(request)
    # Who is invited is shown to all who may see the session; the links only to their holders.
    shown = can_manage_invites(user, session)
    invites = [
        (inv, invite_url(ctx.settings, inv) if shown else None)
        for inv, _party in party_links(await list_invites(ctx, session))
    ]
    return render(
        request,
        "session_detail.html",
        {
            "session": session,
            "case": session.case,
            "invites": invites,
            "guests": await guest_pages.guest_rows(request, user, session),
            "guest_roles": guest_pages.ROLES,
            "can_end": can_end_session(user, session),
            "live": session.status in LIVE_STATUSES,
        },
    )


async def invite_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    form = await read_form(request, InviteForm)
    await create_invite(request[CTX], session, party_of(session, form.party_id))
    return see_other(f"/sessions/{session.id}")


async def revoke_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx = request[CTX]
    await revoke_invite(ctx, await invite_of(ctx, session, path_id(request, "invite_id")))
    return see_other(f"/sessions/{session.id}")


async def end_submit(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    await end_session(request[CTX], session, rooms=request.app.get(HUB))
    return see_other(f"/sessions/{session.id}")


async def staff_join(request: web.Request) -> web.Response:
    user = require_user(request)
    session = await session_of(request)
    if session.status not in LIVE_STATUSES:
        raise AppError("this session has ended", code="session_ended")
    return await _app_page(
        request,
        session,
        ws_url=f"/ws/sessions/{session.id}",
        is_party=False,
        resume_key=f"{session.id}.user.{user.id}",
        documents_base=f"/api/v1/cases/{session.case_id}/documents",
        probe_url=f"/api/v1/sessions/{session.id}/probe",
    )


async def party_join(request: web.Request) -> web.Response:
    """The invite link: no account, straight to the pre-join page of that one session."""
    token = request.match_info["token"]
    try:
        invite = await verify_invite(request[CTX], token)
    except AppError as exc:
        # Not a login matter: say plainly that the link does not work (no redirect to login).
        status = 404 if isinstance(exc, Unauthorized) else None
        return await invite_error_page(request, token, exc, status=status)
    guest = invite.guest_id is not None
    return await _app_page(
        request,
        invite.session,
        ws_url=f"/ws/sessions/{invite.session_id}?invite={token}",
        is_party=True,
        resume_key=f"{invite.session_id}.invite.{invite.id}",
        documents_base="" if guest else f"/api/v1/invites/{token}/documents",
        probe_url=f"/api/v1/invites/{token}/probe",
        is_guest=guest,
    )
