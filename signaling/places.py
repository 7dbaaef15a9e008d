"""Where each participant is, as the listeners and the participants hear it.

After the effects of a room change are carried out, the listeners hear of each move
(``PlaceChanged``, and a last one to nowhere for whoever the room forgot) and whoever moved
hears whether their new place is recorded. ``set_recorded`` is the other way in: the
recordings side says which rooms it records, and each participant whose answer changed hears.
"""

from __future__ import annotations

from signaling.events import PlaceChanged
from signaling.listeners import Listeners
from signaling.live import Live
from signaling.rooms import HOST, MAIN, Place
from signaling.server_messages import Error, Recording


def tell_moves(live: Live, moves: list[Place], listeners: Listeners) -> None:
    """Tell each one who moved whether their new place is recorded, and the listeners
    where they went; then say goodbye for those the room forgot."""
    for move in moves:
        who = live.people.get(move.pid)
        if who is None:
            continue
        previous, live.where[move.pid] = live.where.get(move.pid), move.place
        c = live.conns.get(move.pid)
        if c is not None and live.recorded is not None:
            c.send(Recording(active=recorded(live.recorded, move.place)))
        listeners.place_changed(PlaceChanged(live.session_id, who, previous, move.place))
    for pid in [pid for pid in live.people if pid not in live.room.members]:
        who, previous = live.people.pop(pid), live.where.pop(pid, None)
        if previous is not None:  # e.g. replaced by their own new connection
            listeners.place_changed(PlaceChanged(live.session_id, who, previous, None))


def set_recorded(live: Live, *, main: bool, caucus: bool, alarm: str | None) -> None:
    """See ``signaling.events.RoomControl.set_recorded``."""
    before, live.recorded = live.recorded, (main, caucus)
    for pid, c in live.conns.items():
        member = live.room.members.get(pid)
        place = member.place if member is not None else None
        active = recorded(live.recorded, place)
        if before is None or active != recorded(before, place):
            c.send(Recording(active=active))
    if alarm is not None:
        for pid, c in live.conns.items():
            member = live.room.members.get(pid)
            if member is not None and member.role == HOST:
                c.send(Error(code="recording_stopped", message=alarm))


def recorded(recorded: tuple[bool, bool] | None, place: str | None) -> bool:
    """Whether ``place`` is recorded when (main, caucus rooms) are."""
    if recorded is None or place is None:
        return False
    main, caucus = recorded
    return main if place == MAIN else caucus
