"""The words of the session client (web/static/js: pre-join, lobby, room, host panel), in
the reader's language: the page hands them to its scripts as ``strings`` in its JSON config,
so the scripts hold no language of their own."""

from __future__ import annotations

from aiohttp import web

from server.web.http import gettext_of


def room_strings(request: web.Request) -> dict[str, str]:
    """Every string the browser client shows, translated for the page's language."""
    _ = gettext_of(request)
    return {
        "camera_ok": _("Camera works"),
        "camera_fail": _("No picture from the camera"),
        "mic_ok": _("Microphone works"),
        "mic_fail": _("No sound from the microphone yet: say something"),
        "mic_click": _("The browser needs a click before it can hear you"),
        "test_pass": _("Your camera and microphone work. You can join."),
        "test_fail": _("The self-test did not pass. Check your devices, or join anyway."),
        # Why the camera or microphone could not be opened, by the browser's error name
        # (media_problem.js): each says what the person can do about it.
        "media_denied": _(
            "The browser did not allow the camera or microphone. Allow them for this page "
            "(the icon at the left of the address bar), then reload the page."
        ),
        "media_missing": _(
            "No camera or microphone was found. Plug one in, or join from a phone, then "
            "reload the page."
        ),
        "media_busy": _(
            "The camera or microphone is in use by another program. Close it, then reload the page."
        ),
        "media_other": _("The camera or microphone could not be opened"),
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
        # An aside after a word, in the language's brackets (words.js).
        "aside": _("%(what)s (%(more)s)"),
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
