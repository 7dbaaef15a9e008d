"""Recording pages: a session's recordings (segments with who is in them, the composite with a
progress bar that polls the JSON API, playback and download, legal hold, start/stop for the
host), and the admin page with the manifest-signing public key and the purge preview.

The access rules are the API's (``server.api.recordings.viewable_recording``); the case page
shows a recordings section through ``recordings_case.html``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from recordings import keys, retention
from server.access import is_host
from server.api.recordings import (
    apply_hold,
    host_set_active,
    queue_composite,
    viewable_recording,
)
from server.errors import NotFound
from server.models.accounts import Role
from server.models.recordings import SegmentStatus
from server.web.auth import require_role, require_user
from server.web.http import read_form, render, see_other
from server.web.keys import DB, SETTINGS


class HoldForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: bool
    reason: str = Field(default="", max_length=255)


class ActiveForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool


def _session_id(request: web.Request) -> int:
    try:
        return int(request.match_info["session_id"])
    except ValueError:
        raise NotFound("no such session", code="session_not_found") from None


def _duration(ms: int | None) -> str:
    seconds = (ms or 0) // 1000
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


async def session_recordings(request: web.Request) -> web.Response:
    user = require_user(request)
    db = request[DB]
    rec = await viewable_recording(db, user, _session_id(request))
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
        "may_hold": user.role in (Role.ADMIN, Role.CLERK, Role.JUDGE),
    }
    return render(request, "recordings_session.html", ctx)


async def retry_composite(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    db = request[DB]
    rec = await viewable_recording(db, user, _session_id(request))
    await queue_composite(db, request, rec)
    return see_other(f"/recordings/sessions/{rec.session_id}")


async def set_hold(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    form = await read_form(request, HoldForm)
    db = request[DB]
    rec = await viewable_recording(db, user, _session_id(request))
    await apply_hold(db, request, user, rec, form.hold, form.reason)
    return see_other(f"/recordings/sessions/{rec.session_id}")


async def set_active(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    form = await read_form(request, ActiveForm)
    rec = await host_set_active(request, user, _session_id(request), form.active)
    return see_other(f"/sessions/{rec.session_id}")


async def admin_page(request: web.Request) -> web.Response:
    require_role(request, Role.ADMIN)
    settings = request.app[SETTINGS]
    key = keys.load_or_create(settings.data_dir).public_key()
    due = await retention.candidates(request[DB], settings)
    return render(
        request,
        "recordings_admin.html",
        {
            "fingerprint": keys.fingerprint(key),
            "pem": keys.public_pem(key).decode(),
            "due": due,
            "retention": settings.recording_retention_days,
        },
    )
