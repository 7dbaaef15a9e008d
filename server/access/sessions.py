"""Who may host, join, end and open a live session, hold the parties' and the guests' links,
and use the case file (electronic documents, also by mail and by a party's link)."""

from __future__ import annotations

from collections.abc import Collection

from server.access.cases import can_view_case, is_assigned
from server.access.scheduling import can_book_case, can_book_for_office
from server.models.accounts import Role, User
from server.models.docket import Case
from server.models.sessions import Invite, MediationSession, SessionStatus


def is_host(user: User, session: MediationSession) -> bool:
    """Hosting a live session (admitting the lobby, moving people, recording): the session's
    host, or the case's assigned judge or mediator, as they cover for each other."""
    case = session.case
    return user.id == session.host_id or user.id in (case.mediator_id, case.judge_id)


def may_join(user: User, session: MediationSession) -> bool:
    """Joining a live session (and seeing it at all): an active account that may see its
    case; anyone else is told it does not exist."""
    return user.active and can_view_case(user, session.case)


def can_probe_network(user: User, session: MediationSession) -> bool:
    """The pre-join's network probe (random bytes down and up, server.api.probe): whoever
    may join the session, while it is live. A party's or a guest's link probes as it joins:
    ``verify_invite`` (a live session, a link neither withdrawn nor expired)."""
    live = session.status in (SessionStatus.SCHEDULED, SessionStatus.OPEN)
    return live and may_join(user, session)


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


def can_invite_guests(user: User, session: MediationSession) -> bool:
    """Inviting guests of joint mediation (联调: a people's mediator, a police officer, an
    interpreter) and seeing their links: those who hold the parties' links
    (``can_manage_invites``), for the same reason: a guest's link lets its bearer into the
    session, to see and hear the parties. Only the room's host decides, live, whether a
    guest may enter caucus rooms (a host-only protocol message, ``signaling.rooms``)."""
    return can_manage_invites(user, session)


def can_view_documents(user: User, case: Case) -> bool:
    """The electronic case file (电子卷宗): whoever may see the case (the court, and the
    case's own office), since its documents are what the case is decided on. Another
    office's documents are not found, as its case is."""
    return can_view_case(user, case)


def can_add_document(user: User, case: Case) -> bool:
    """Adding to the case file: the court's staff and the case's office staff (who scan what
    a resident brings to the street office), at every stage."""
    return can_view_case(user, case)


def can_mail_case(
    case: Case, *, from_court: bool, office_ids: Collection[int], user: User | None
) -> bool:
    """Writing to a case's mailbox (电子邮箱), judged by the sender's address: any address at
    the court's mail domain; the registered address of the case's own office (``office_ids``
    are the offices registered under the sender's address); the registered address of an
    active account that may add to the case file (``user``). Another office's address is
    refused, as that office's staff cannot reach the case."""
    if from_court or case.office_id in office_ids:
        return True
    return user is not None and user.active and can_add_document(user, case)


def can_party_add_document(invite: Invite, case: Case) -> bool:
    """A party adds to the case file through their own live invitation link, to the case of
    its session only, and sees back only what they gave (not the other side's evidence).
    A guest's link (joint mediation) is no party's: it adds nothing."""
    party = invite.party
    return party is not None and invite.session.case_id == case.id and party.case_id == case.id


def can_party_open_document(
    party_id: int | None, brought_by: int | None, shown_to: list[int]
) -> bool:
    """A party opens a document of their case through their link only if they brought it
    themselves or the host showed it in a room they were in (``shown_to``: the parties in
    the room at each showing); never the other side's papers otherwise. A guest's link
    (``party_id`` None) opens none: a guest sees what the host shows on the screen only."""
    return party_id is not None and (brought_by == party_id or party_id in shown_to)
