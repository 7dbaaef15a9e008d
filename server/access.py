"""The one access check: who may see or change which case, and see whose identity.

Every route that touches a case goes through ``load_case_for`` (or the ``can_*`` functions for
lists), whether it serves a page or the API. A case that a user may not see is reported as
not found, so its existence does not leak across offices.

Rules (DESIGN.md "The people"):
- admin, clerk, judge, mediator (the court) see every case; judges and mediators default to
  "assigned to me" in the docket, but the center is small and they cover for each other;
- office staff see only the cases of their own office;
- a party's ID number is shown unmasked only to the case's assigned judge, mediator and clerk;
- parties (no account) see nothing of the docket; they reach only their own session through
  an invite link (signaling checks that), and sign only through it, as themselves;
- the parties' links, and the agreement's original with their full ID numbers, go only to
  the few who need them (``can_manage_invites``, ``can_read_agreement_original``); everyone
  else who may see the case sees who is invited and a masked preview.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import Forbidden, NotFound
from server.models.accounts import COURT_ROLES, Role, User
from server.models.docket import Case, Party, Stage
from server.models.scheduling import Booking
from server.models.sessions import Invite, MediationSession

if TYPE_CHECKING:
    from server.context import Actor

COURT_WIDE = frozenset({Role.ADMIN, Role.CLERK, Role.JUDGE, Role.MEDIATOR})
# Who may change a case's details and parties (stage moves have their own table in stages).
EDITORS = frozenset({Role.ADMIN, Role.CLERK, Role.JUDGE, Role.MEDIATOR})


def can_view_case(user: User, case: Case) -> bool:
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and case.office_id == user.office_id


def visible_cases_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause limiting a case query to what ``user`` may see."""
    if user.role in COURT_WIDE:
        return true()
    return Case.office_id == user.office_id


def can_see_every_office(user: User) -> bool:
    """The court sees every office's cases, so the docket offers it the office and assignee
    filters; office staff see their own office's cases only, so they get neither."""
    return user.role in COURT_WIDE


def is_assigned(user: User, case: Case) -> bool:
    return user.id in (case.judge_id, case.mediator_id, case.clerk_id)


def can_see_identity(user: User, case: Case) -> bool:
    """Unmasked ID numbers: only the assigned judge, mediator and clerk."""
    return is_assigned(user, case)


def can_edit_case(user: User, case: Case) -> bool:
    if user.role in EDITORS:
        return True
    # Office staff keep registering a resident's dispute while it is still at intake.
    return (
        user.role == Role.OFFICE_STAFF
        and case.office_id == user.office_id
        and case.stage == "intake"
    )


def can_assign(user: User, case: Case) -> bool:
    """Assigning the judge, mediator and clerk: the clerks who keep the docket, and admins.
    An assignment also decides who sees ID numbers, so it is not left to anyone who edits."""
    return user.role in (Role.ADMIN, Role.CLERK)


def can_create_case(user: User, office_id: int) -> bool:
    """Registering a dispute: the court's clerks and mediators (walk-ins at the center),
    admins, and office staff for their own office. Judges receive cases, they do not
    register them."""
    if user.role in (Role.ADMIN, Role.CLERK, Role.MEDIATOR):
        return True
    return user.role == Role.OFFICE_STAFF and user.office_id == office_id


def can_view_report(user: User, office_id: int | None) -> bool:
    """Reports: the court sees any office's figures and the whole court's; office staff see
    their own office's only (``office_id`` None is all offices)."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


# Scheduling: from this many minutes before a session's start only court staff may change it.
LATE_CHANGE_MINUTES = 30


def can_book_for_office(user: User, office_id: int) -> bool:
    """Booking a session: office staff for their own office, clerks and admins for any.
    Judges and mediators are booked, they do not book."""
    if user.role in (Role.ADMIN, Role.CLERK):
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


def can_book_case(user: User, case: Case) -> bool:
    """Booking a session for a case: as for the case's office (``can_book_for_office``)."""
    return can_book_for_office(user, case.office_id)


def can_change_booking(user: User, case: Case, host_id: int) -> bool:
    """Moving or cancelling a booking: whoever may book the case, and its host. The
    30-minute rule (``can_change_late``) is applied on top by the scheduler."""
    return can_book_case(user, case) or user.id == host_id


def can_change_late(user: User) -> bool:
    """Within ``LATE_CHANGE_MINUTES`` of the start only the court's staff may move or cancel
    a session: the residents are on their way by then, and the court answers for calling
    it off."""
    return user.role in COURT_WIDE


def can_schedule_for_office(user: User, office_id: int) -> bool:
    """Availability and the bookings of an office: the court for any office, office staff
    for their own."""
    if user.role in COURT_WIDE:
        return True
    return user.role == Role.OFFICE_STAFF and office_id == user.office_id


def own_schedule_office(user: User) -> int | None:
    """The office whose schedule a user is held to: office staff their own; None for the
    court, which sees every office and picks one."""
    return None if user.role in COURT_WIDE else user.office_id


def can_view_center_schedule(user: User) -> bool:
    """The center's overview of every office's week: the court's staff (an office has its
    own dashboard)."""
    return user.role in COURT_WIDE


def can_browse_host_schedules(user: User) -> bool:
    """The hosts' day and week pages (``/schedule/my``, any host's): the court's staff, who
    host or cover for the hosts; an office books through its own dashboard."""
    return user.role in COURT_WIDE


def can_view_sessions_of(user: User, host_id: int) -> bool:
    """A host's day and week: their own; the court's staff may look at any host's, since
    they cover for each other."""
    return user.id == host_id or user.role in COURT_WIDE


def can_manage_schedule_resources(user: User) -> bool:
    """Mediators' and judges' working hours, the center's rooms, the offices' terminals:
    admins, who keep offices, rooms and settings (DESIGN.md "The people")."""
    return user.role == Role.ADMIN


def calendar_feed_clause(user: User) -> ColumnElement[bool]:
    """What a user's calendar feed carries: a host's own sessions, office staff their
    office's, clerks and admins the whole court. The feed leaves the court for a calendar
    app, so it holds the owner's own work, not all they could look up."""
    if user.role in (Role.MEDIATOR, Role.JUDGE):
        return Booking.host_id == user.id
    if user.role == Role.OFFICE_STAFF:
        return Booking.office_id == user.office_id
    return true()


def is_host(user: User, session: MediationSession) -> bool:
    """Hosting a live session (admitting the lobby, moving people, recording): the session's
    host, or the case's assigned judge or mediator, as they cover for each other."""
    case = session.case
    return user.id == session.host_id or user.id in (case.mediator_id, case.judge_id)


def may_join(user: User, session: MediationSession) -> bool:
    """Joining a live session (and seeing it at all): an active account that may see its
    case; anyone else is told it does not exist."""
    return user.active and can_view_case(user, session.case)


def can_end_session(user: User, session: MediationSession) -> bool:
    """Ending a session for everyone: its host (``is_host``), and admins, who close a
    session left open."""
    return is_host(user, session) or user.role == Role.ADMIN


def can_open_session(user: User, case: Case) -> bool:
    """Opening a live session for a case (outside a booking, which has its own rule): those
    who may book it (``can_book_case``: its office's staff, clerks, admins) and the case's
    assigned judge, mediator and clerk, who host it or keep its record. Not everyone who may
    see the case: a session carries the parties' invite links, so whoever opens one holds
    their credentials (issue 12: an unassigned mediator opened one to get a party's link)."""
    return user.active and (can_book_case(user, case) or is_assigned(user, case))


def can_manage_invites(user: User, session: MediationSession) -> bool:
    """Holding the parties' credentials: creating and revoking an invite link, and seeing the
    links themselves (in the sessions API, the booking API and the session page). A link
    lets its bearer join as the party and sign the agreement for them, so it goes only to
    the session's host, the case's assigned judge, mediator and clerk, the clerks, and those
    who book the session for its office (``can_book_for_office``: that office's staff and
    admins, who hand the links to the residents). Everyone else who may see the session
    sees who is invited, never a link."""
    case = session.case
    if not may_join(user, session):
        return False
    return (
        user.id == session.host_id
        or is_assigned(user, case)
        or user.role == Role.CLERK
        or can_book_for_office(user, session.office_id or case.office_id)
    )


def can_view_documents(user: User, case: Case) -> bool:
    """The electronic case file (电子卷宗): whoever may see the case (the court, and the
    case's own office), since its documents are what the case is decided on. Another
    office's documents are not found, as its case is."""
    return can_view_case(user, case)


def can_add_document(user: User, case: Case) -> bool:
    """Adding to the case file: the court's staff and the case's office staff (who scan what
    a resident brings to the street office), at every stage."""
    return can_view_case(user, case)


def can_party_add_document(invite: Invite, case: Case) -> bool:
    """A party adds to the case file through their own live invitation link, to the case of
    its session only, and sees back only what they gave (not the other side's evidence)."""
    return invite.session.case_id == case.id and invite.party.case_id == case.id


def can_party_open_document(party_id: int, brought_by: int | None, shown_to: list[int]) -> bool:
    """A party opens a document of their case through their link only if they brought it
    themselves or the host showed it in a room they were in (``shown_to``: the parties in
    the room at each showing); never the other side's papers otherwise."""
    return brought_by == party_id or party_id in shown_to


def can_view_recordings(user: User, case: Case) -> bool:
    """Recordings: the assigned judge and mediator, the clerks and admins."""
    if user.role in (Role.ADMIN, Role.CLERK):
        return True
    return user.id in (case.judge_id, case.mediator_id)


def can_hold_recording(user: User) -> bool:
    """Setting or lifting a legal hold on a recording they may see (``can_view_recordings``):
    judges, clerks and admins. A hold overrides the retention period, so it is the court's
    decision about its record, not the mediator's."""
    return user.role in (Role.ADMIN, Role.CLERK, Role.JUDGE)


def can_administer_recordings(user: User) -> bool:
    """The recordings' administration (the manifest-signing key, what is due for deletion):
    admins, who keep the server's settings and keys."""
    return user.role == Role.ADMIN


def can_view_audit_status(user: User) -> bool:
    """The audit log's state (how far the sequencer is behind, its checkpoints and key):
    admins, who keep the server; the log's rows themselves are read with the objects they
    are about, never listed whole on a page."""
    return user.role == Role.ADMIN


def can_draft_agreement(user: User, case: Case) -> bool:
    """Drafting an agreement's terms: the mediators and judges (a fast-track judge mediates
    too), as for any case they may see."""
    return user.role in (Role.MEDIATOR, Role.JUDGE) and can_view_case(user, case)


def is_agreement_mediator(user: User, case: Case, drafted_by: int | None) -> bool:
    """Who signs an agreement as its mediator (last): the case's assigned mediator, else,
    where none is assigned, the mediator or judge who drafted it."""
    if case.mediator_id is not None:
        return user.id == case.mediator_id
    return user.id == drafted_by and user.role in (Role.MEDIATOR, Role.JUDGE)


def can_rewrite_agreement(user: User, case: Case) -> bool:
    """Saving new terms over an agreement's text (which voids the signatures given on it):
    the case's assigned mediator, or, while the case is in fast-track, its assigned judge,
    who mediates there. Not any mediator or judge who may see the case: the parties signed
    what their mediator wrote, and only that mediator may make them sign again."""
    if user.id == case.mediator_id:
        return True
    return user.role == Role.JUDGE and user.id == case.judge_id and case.stage == Stage.FAST_TRACK


def can_read_agreement_original(user: User, case: Case) -> bool:
    """The agreement's text as signed, with the parties' full ID numbers (the current version,
    a live preview unmasked, the sealed PDFs): the case's assigned judge, mediator and clerk
    (``can_see_identity``) and the clerks, who keep the record. The parties read it through
    their own invite links (``server.sessions.verify_invite``). Everyone else who may see
    the case gets a masked preview and no original, as the case API masks the ID numbers
    for them (admins keep the server, not the court's record)."""
    return can_see_identity(user, case) or user.role == Role.CLERK


def can_sign_as_party(actor: Actor, party: Party) -> bool:
    """A party's signature is theirs alone: given through their own invite link, by the party
    as the request's actor (``server.web.auth.enter_as_party``). A court account logged in
    on the same request never signs for a party, whatever link it holds: the record would
    name the party for what a member of the court did."""
    return actor.kind == "party" and actor.id == party.id


def can_confirm_agreement(user: User, case: Case) -> bool:
    """Judicial confirmation is a ruling of the case's assigned judge (the stage machine
    checks the move too); another judge covering the hearing does not rule on it."""
    return user.role == Role.JUDGE and user.id == case.judge_id


def can_download_agreements_zip(user: User) -> bool:
    """The zip of many sealed agreements is for the file: the clerks, as for a single sealed
    original (``can_read_agreement_original``); it is not filtered by assignment."""
    return user.role == Role.CLERK


def can_read_agreement_templates(user: User) -> bool:
    """Reading the document templates: the court's staff, who draft and confirm with them
    (office staff never see an agreement's template)."""
    return user.role in COURT_ROLES


def can_edit_agreement_templates(user: User) -> bool:
    """Adding and changing document templates: admins; a template's text is what the court
    signs, so it is not left to those who draft with it."""
    return user.role == Role.ADMIN


def can_manage_calendar(user: User) -> bool:
    """Told which years the working calendar counts provisionally, and how to add a year's
    official schedule (a file on the server): admins, who keep the server's settings."""
    return user.role == Role.ADMIN


def can_manage_users(user: User) -> bool:
    """Listing, creating, changing and deactivating accounts: admins (everyone reads their
    own profile through the auth API)."""
    return user.role == Role.ADMIN


async def load_case_for(db: AsyncSession, user: User, case_id: int, *, edit: bool = False) -> Case:
    """Load a case the user may see (404 otherwise); with ``edit``, may also change (403)."""
    case = await db.get(Case, case_id)
    if case is None or not can_view_case(user, case):
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    if edit and not can_edit_case(user, case):
        raise Forbidden("you may not change this case")
    return case
