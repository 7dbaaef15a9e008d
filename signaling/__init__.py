"""Live sessions: the signaling protocol (``signaling.protocol`` and its messages,
``signaling.browser_messages`` and ``signaling.server_messages``), rooms (lobby, main, caucus),
the hub wiring them to WebSockets (``signaling.hub``, ``signaling.ws``), the pass-through SFU
(``signaling.sfu``), and the typed interface through which others watch and steer the rooms
(``signaling.events``). ``server.live`` builds and wires them for the app's lifetime.
"""

from __future__ import annotations
