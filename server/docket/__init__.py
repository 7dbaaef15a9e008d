"""The civil case docket: cases, their parties and consents, the stage machine, case
numbers, the timeline and audit record of every change, online reception, and the queries
and output models the API and the pages share.

| module | holds |
|---|---|
| ``cases`` | register, change, assign and move a case (``transition``) |
| ``parties`` | parties and their consent to mediate |
| ``stages`` | THE stage machine: legal moves, who may make them, outcomes |
| ``numbers`` | case numbers in the court's style, one sequence per year and track |
| ``log`` | the timeline entry and audit row every change leaves |
| ``queries`` | search, the timeline, overdue and due-soon lists |
| ``deadlines`` | recompute provisional fast-track deadlines once a year is official |
| ``output`` | the output models built from rows (ID numbers masked) |
| ``schemas`` | the input and output models |
| ``intake`` | online reception (网上接待): public submissions and tracking codes |

Every domain function takes a ``server.context.Context`` first. The functions most callers
need are re-exported here (``from server import docket``); the modules inside the package
import one another directly, never this package, so that nothing here forms a cycle.
"""

from __future__ import annotations

from server.docket.cases import (
    assign,
    create_case,
    get_case,
    registration_source,
    resolve_office,
    transition,
    update_case,
)
from server.docket.deadlines import Recomputed, recompute_deadlines
from server.docket.log import log_change
from server.docket.output import (
    case_detail,
    case_detail_out,
    case_out,
    cases_out,
    entry_out,
    party_out,
)
from server.docket.parties import (
    add_party,
    latest_consents,
    latest_consents_many,
    record_consent,
    update_party,
)
from server.docket.queries import (
    CasePage,
    all_offices,
    assignable_people,
    case_numbers,
    due_soon_cases,
    list_cases,
    overdue_cases,
    timeline,
)

__all__ = [
    "CasePage",
    "Recomputed",
    "add_party",
    "all_offices",
    "assign",
    "assignable_people",
    "case_detail",
    "case_detail_out",
    "case_numbers",
    "case_out",
    "cases_out",
    "create_case",
    "due_soon_cases",
    "entry_out",
    "get_case",
    "latest_consents",
    "latest_consents_many",
    "list_cases",
    "log_change",
    "overdue_cases",
    "party_out",
    "recompute_deadlines",
    "record_consent",
    "registration_source",
    "resolve_office",
    "timeline",
    "transition",
    "update_case",
    "update_party",
]
