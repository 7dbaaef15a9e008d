"""Scheduling: street offices book remote sessions with the center without double-booking.

``setup(app)`` wires the JSON API (``server.api.scheduling``), the pages
(``server.pages.schedule_pages``) and the background outbox sender. The pieces:
``hours`` (working days and hours), ``resources`` (hosts, rooms, terminals), ``availability``
(free slots), ``booking`` (create, move, cancel; the database guarantee), ``rules``,
``outbox`` / ``mail`` / ``sms`` / ``sender`` (invitations and reminders), ``feeds``
(calendar feeds), ``queries`` and ``schemas``.
"""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    from server.api import scheduling as api
    from server.pages import schedule_pages
    from server.scheduling import sender

    sender.setup(app)
    api.setup(app)
    schedule_pages.setup(app)
