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
- guests of joint mediation (联调, no account) reach only their session through their link:
  never the case file, the agreement or anything a party's link opens;
- the parties' links, and the agreement's original with their full ID numbers, go only to
  the few who need them (``can_manage_invites``, ``can_read_agreement_original``); everyone
  else who may see the case sees who is invited and a masked preview.
"""

from __future__ import annotations

from server.access.cases import (
    COURT_WIDE,
    EDITORS,
    can_assign,
    can_create_case,
    can_edit_case,
    can_see_every_office,
    can_see_identity,
    can_view_case,
    can_view_report,
    is_assigned,
    load_case_for,
    visible_cases_clause,
)
from server.access.desk import (
    DUTY,
    can_answer_call,
    can_attach_call,
    can_call_back,
    can_edit_roster,
    can_place_call,
    can_register_call,
    can_view_call,
    can_view_roster,
)
from server.access.records import (
    can_administer_recordings,
    can_confirm_agreement,
    can_download_agreements_zip,
    can_draft_agreement,
    can_edit_agreement_templates,
    can_hold_recording,
    can_manage_calendar,
    can_manage_users,
    can_read_agreement_original,
    can_read_agreement_templates,
    can_rewrite_agreement,
    can_sign_as_party,
    can_view_audit_status,
    can_view_recordings,
    is_agreement_mediator,
)
from server.access.scheduling import (
    LATE_CHANGE_MINUTES,
    calendar_feed_clause,
    can_book_case,
    can_book_for_office,
    can_browse_host_schedules,
    can_change_booking,
    can_change_late,
    can_manage_schedule_resources,
    can_schedule_for_office,
    can_view_center_schedule,
    can_view_sessions_of,
    own_schedule_office,
)
from server.access.sessions import (
    can_add_document,
    can_end_session,
    can_invite_guests,
    can_mail_case,
    can_manage_invites,
    can_open_session,
    can_party_add_document,
    can_party_open_document,
    can_probe_network,
    can_view_documents,
    is_host,
    may_join,
)

__all__ = [
    "COURT_WIDE",
    "DUTY",
    "EDITORS",
    "LATE_CHANGE_MINUTES",
    "calendar_feed_clause",
    "can_add_document",
    "can_administer_recordings",
    "can_answer_call",
    "can_assign",
    "can_attach_call",
    "can_book_case",
    "can_book_for_office",
    "can_browse_host_schedules",
    "can_call_back",
    "can_change_booking",
    "can_change_late",
    "can_confirm_agreement",
    "can_create_case",
    "can_download_agreements_zip",
    "can_draft_agreement",
    "can_edit_agreement_templates",
    "can_edit_case",
    "can_edit_roster",
    "can_end_session",
    "can_hold_recording",
    "can_invite_guests",
    "can_mail_case",
    "can_manage_calendar",
    "can_manage_invites",
    "can_manage_schedule_resources",
    "can_manage_users",
    "can_open_session",
    "can_party_add_document",
    "can_party_open_document",
    "can_place_call",
    "can_probe_network",
    "can_read_agreement_original",
    "can_read_agreement_templates",
    "can_register_call",
    "can_rewrite_agreement",
    "can_schedule_for_office",
    "can_see_every_office",
    "can_see_identity",
    "can_sign_as_party",
    "can_view_audit_status",
    "can_view_call",
    "can_view_case",
    "can_view_center_schedule",
    "can_view_documents",
    "can_view_recordings",
    "can_view_report",
    "can_view_roster",
    "can_view_sessions_of",
    "is_agreement_mediator",
    "is_assigned",
    "is_host",
    "load_case_for",
    "may_join",
    "own_schedule_office",
    "visible_cases_clause",
]
