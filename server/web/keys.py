"""Typed keys for the web layer's application and request state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.models.accounts import User
from server.models.docket import Party
from server.settings import Settings

if TYPE_CHECKING:
    from server.context import Context, Court
    from server.i18n import Catalogs
    from server.mailbox import CaseMailbox
    from server.scheduling.sender import OutboxSender
    from server.tasks import Supervisor
    from server.workdays import WorkCalendar

# What a handler or middleware continuation is.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])
CATALOGS: web.AppKey[Catalogs] = web.AppKey("catalogs")
CALENDAR: web.AppKey[WorkCalendar] = web.AppKey("calendar")
JINJA = web.AppKey("jinja", jinja2.Environment)
# The long-lived services every unit of work is built from (server.context).
COURT: web.AppKey[Court] = web.AppKey("court")
SUPERVISOR: web.AppKey[Supervisor] = web.AppKey("supervisor")
SENDER: web.AppKey[OutboxSender] = web.AppKey("outbox_sender")
# The case mailbox's SMTP endpoint; None when MAILBOX_PORT is not set.
MAILBOX: web.AppKey[CaseMailbox | None] = web.AppKey("mailbox")

# Per-request state, set by the middlewares in server.web.context and server.web.auth.
# The request's unit of work: what every domain function is handed.
CTX: web.RequestKey[Context] = web.RequestKey("ctx")
USER: web.RequestKey[User | None] = web.RequestKey("user")
AUTH_VIA = web.RequestKey("auth_via", str)
SESSION_EXPIRED = web.RequestKey("session_expired", bool)
LANG = web.RequestKey("lang", str)
CSRF_TOKEN = web.RequestKey("csrf_token", str)
CSRF_NEW = web.RequestKey("csrf_new", bool)
# Set when a party is authenticated by an invite link instead of an account.
PARTY: web.RequestKey[Party | None] = web.RequestKey("party")
