"""Scheduling's application state: its clock and its background sender.

The clock is the one place scheduling asks for "now", so a test can hold the court's day
still (a booking on 30 September 2026 stays bookable whenever the suite runs); the app uses
the real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from server.models.base import utcnow

if TYPE_CHECKING:
    from server.scheduling.sender import OutboxSender

CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("scheduling_clock")
SENDER: web.AppKey[OutboxSender] = web.AppKey("scheduling_sender")


def now(app: web.Application) -> datetime:
    return app.get(CLOCK, utcnow)()
