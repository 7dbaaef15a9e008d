"""Who may keep the duty roster, call the center from a street office, answer a call, see
it, call a missed one back, and register or attach it during the call (``server.desk``)."""

from __future__ import annotations

from server.access.cases import COURT_WIDE
from server.models.accounts import Role, User
from server.models.desk import DeskCall

# The duty desk (server.desk). A call's office and the center see it; nobody else does.
DUTY = frozenset({Role.JUDGE, Role.MEDIATOR})


def can_edit_roster(user: User) -> bool:
    """Putting judges and mediators on duty: the clerks who keep the center's day, and
    admins."""
    return user.role in (Role.ADMIN, Role.CLERK)


def can_view_roster(user: User) -> bool:
    """Who is on duty: the court, and the offices (their terminal names who will answer)."""
    return user.role in COURT_WIDE or user.role == Role.OFFICE_STAFF


def can_place_call(user: User) -> bool:
    """Calling the center from a street office's terminal: that office's accounts."""
    return user.active and user.role == Role.OFFICE_STAFF and not user.office.is_center


def can_answer_call(user: User) -> bool:
    """Answering a call: the center's judges and mediators (the duty roster's people, and
    after it the whole center)."""
    return user.active and user.role in DUTY


def can_view_call(user: User, call: DeskCall) -> bool:
    """A call, its state and its outcome: the court, and the office that placed it."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and call.office_id == user.office_id


def can_call_back(user: User) -> bool:
    """Marking a missed call as called back: whoever at the court took up the request."""
    return user.active and user.role in COURT_WIDE


def can_register_call(user: User, call: DeskCall) -> bool:
    """Typing the resident's dispute into an answered call's case: the one who answered,
    and the calling office's staff, who sit beside the resident."""
    if call.answered_by_id is None:
        return False
    if user.id == call.answered_by_id:
        return True
    return user.role == Role.OFFICE_STAFF and user.office_id == call.office_id


def can_attach_call(user: User, call: DeskCall) -> bool:
    """Joining an answered call to a case already on the docket: the one who answered, who
    can see every case (office staff cannot tell which case of another office it is)."""
    return call.answered_by_id is not None and user.id == call.answered_by_id
