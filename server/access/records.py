"""Who may see and keep recordings, the audit log's state, agreements (drafting, signing,
confirmation, the clerks' zip, templates), the calendar and the accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.models.accounts import COURT_ROLES, Role, User
from server.models.docket import Case, Party, Stage

if TYPE_CHECKING:
    from server.context import Actor

from server.access.cases import can_see_identity, can_view_case


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
