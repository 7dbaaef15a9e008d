"""Scheduling: street offices book remote sessions with the center without double-booking.

The JSON API is ``server.api.scheduling``, the pages ``server.pages.schedule_pages``. The
pieces:
``hours`` (working days and hours), ``resources`` (hosts, rooms, terminals), ``availability``
(free slots), ``booking`` (create, move, cancel; the database guarantee), ``rules``,
``outbox`` / ``mail`` / ``sms`` / ``sender`` (invitations and reminders), ``feeds``
(calendar feeds), ``queries`` and ``schemas``.

Every function that reads or writes takes a ``server.context.Context`` first (the session,
the acting user, the settings, the working calendar and the clock); who may do what is
``server.access``'s. Nothing here knows of the web.
"""

from __future__ import annotations
