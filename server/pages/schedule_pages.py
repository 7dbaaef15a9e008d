"""Scheduling pages: the office dashboard, the availability grid and booking form, a
booking with its delivery state, a host's day and week, the center's overview, and the
secret calendar feed itself (``/calendar/{token}.ics``)."""

from __future__ import annotations

from aiohttp import web

from server.appkeys import DB, SETTINGS
from server.scheduling import feeds
from server.scheduling.keys import now
from server.scheduling.mail import feed_calendar


async def calendar_feed(request: web.Request) -> web.Response:
    db = request[DB]
    owner = await feeds.feed_owner(db, request.match_info["token"])
    rows = await feeds.feed_bookings(db, owner, now(request.app))
    body = feed_calendar(rows, request.app[SETTINGS], f"courtlink · {owner.display_name}")
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/calendar/{token:[A-Za-z0-9_-]+}.ics", calendar_feed, name="calendar_feed")
