"""Recording pages: a session's recordings (segments with who is in them, the composite with a
progress bar that polls the JSON API, playback and download, legal hold, start/stop for the
host), and the admin page with the manifest-signing public key and the purge preview.

What may be seen and done is ``recordings.actions``, shared with the JSON API; the rules the
page shows its buttons by are ``server.access``'s.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from recordings import actions, keys
from server.access import can_hold_recording, is_host
from server.api.recordings import session_id_of
from server.live import RECORDINGS
from server.models.recordings import SegmentStatus
from server.pages.report_pages import outcome_labels
from server.web.auth import require_user
from server.web.http import gettext_of, read_form, render, see_other
from server.web.keys import CTX, SETTINGS


class HoldForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: str = Field(default="", max_length=255)


class ActiveForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


def _duration(ms: int | None) -> str:
    seconds = (ms or 0) // 1000
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def session_recordings(request: web.Request) -> web.Response:
    user = require_user(request)
    rec = await actions.viewable_recording(request[CTX], session_id_of(request))
    segments = [s for s in rec.segments if s.status != SegmentStatus.PURGED]
    people: dict[str, list[str]] = {}
    for seg in segments:
        people.setdefault(seg.participant, []).append(seg.label)
    ctx: dict[str, Any] = {
        "rec": rec,
        "session": rec.session,
        "case": rec.session.case,
        "segments": segments,
        "people": people,
        "duration": _duration,
        "is_host": is_host(user, rec.session),
        "may_hold": can_hold_recording(user),
    }
    return render(request, "recordings_session.html", ctx)


async def retry_composite(request: web.Request) -> web.StreamResponse:
    require_user(request)
    rec = await actions.queue_composite(request[CTX], session_id_of(request))
    return see_other(f"/recordings/sessions/{rec.session_id}")


async def set_hold(request: web.Request) -> web.StreamResponse:
    require_user(request)
    form = await read_form(request, HoldForm)
    rec = await actions.apply_hold(request[CTX], session_id_of(request), form.hold, form.reason)
    return see_other(f"/recordings/sessions/{rec.session_id}")


async def set_active(request: web.Request) -> web.StreamResponse:
    require_user(request)
    form = await read_form(request, ActiveForm)
    rec = await actions.host_set_active(
        request[CTX], request.app[RECORDINGS], session_id_of(request), form.active
    )
    return see_other(f"/sessions/{rec.session_id}")


async def admin_page(request: web.Request) -> web.Response:
    require_user(request)
    due = await actions.retention_preview(request[CTX])
    settings = request.app[SETTINGS]
    key = keys.published(settings.data_dir)
    # A period is set for a retention class ("mediated": every stage's mediation) or for one
    # outcome; both are shown in the reports' words, never as the settings' keys.
    _ = gettext_of(request)
    labels = {**outcome_labels(_), "mediated": _("Mediated, at any stage")}
    return render(
        request,
        "recordings_admin.html",
        {
            "fingerprint": key.fingerprint,
            "pem": key.pem,
            "due": due,
            "retention": [
                (labels.get(key, key), days)
                for key, days in settings.recording_retention_days.items()
            ],
            "outcome_labels": labels,
        },
    )
