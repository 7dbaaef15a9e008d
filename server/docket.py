"""The docket: register cases, change them, assign people, and move them through the stages.

Every function takes the session first, raises ``server.errors`` classes, and leaves one
docket entry and one audit row per change in the caller's transaction (``docket_log``).
The stage rules live in ``server.stages``; this module applies a checked move to the case.

Parties and consents are in ``docket_parties``, queries in ``docket_queries`` and the output
models' builders in ``docket_out``; all are re-exported here, so callers import
``server.docket`` only.

Optional keyword arguments for callers without a request (the demo seed, the CLI):
``settings=`` supplies the court code and time zone, ``at=`` backdates the change.
"""

from __future__ import annotations

from datetime import date, datetime

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import access
from server.casenumbers import TRACKS, assign_number
from server.docket_log import court_code, court_tz, lock_case, log_change
from server.docket_out import case_detail_out, case_out, entry_out, party_out
from server.docket_parties import (
    add_party,
    insert_party,
    latest_consents,
    latest_consents_many,
    record_consent,
    update_party,
)
from server.docket_queries import (
    CasePage,
    case_numbers,
    due_soon_cases,
    list_cases,
    local_today,
    overdue_cases,
    timeline,
)
from server.docket_schemas import CaseCreate, CaseUpdate
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models.accounts import Office, Role, User
from server.models.base import utcnow
from server.models.docket import Case, Stage
from server.settings import Settings
from server.stages import FAST_TRACK_WORKDAYS, check_move, outcome_for
from server.workdays import WorkCalendar

__all__ = [
    "CasePage",
    "add_party",
    "assign",
    "case_detail_out",
    "case_numbers",
    "case_out",
    "create_case",
    "due_soon_cases",
    "entry_out",
    "get_case",
    "latest_consents",
    "latest_consents_many",
    "list_cases",
    "local_today",
    "overdue_cases",
    "party_out",
    "record_consent",
    "resolve_office",
    "timeline",
    "transition",
    "update_case",
    "update_party",
]


async def resolve_office(db: AsyncSession, actor: User | None, code: str | None) -> int:
    """The office a new case belongs to: office staff's own; else the office named by
    ``code``, or the actor's office when none is named. Unknown codes are 422."""
    if code:
        office_id = await db.scalar(select(Office.id).where(Office.code == code))
        if office_id is None:
            raise Invalid(f"office: unknown office {code!r}", code="unknown_office")
    elif actor is not None:
        office_id = actor.office_id
    else:
        raise Invalid("office: choose an office")
    if actor is not None and actor.role == Role.OFFICE_STAFF and office_id != actor.office_id:
        raise Forbidden("office staff register cases for their own office only")
    return office_id


async def create_case(
    db: AsyncSession,
    actor: User | None,
    data: CaseCreate,
    *,
    office_id: int,
    source: str = "court",
    request: web.Request | None = None,
    tracking_code: str | None = None,
    at: datetime | None = None,
) -> Case:
    """Register a dispute at ``intake`` with its parties (and their consent answers).

    ``actor`` None is the public online-reception form (the caller rate-limits it); any
    other actor must be allowed by ``access.can_create_case``. ``data.office`` is ignored
    here: the caller resolves it with ``resolve_office``.
    """
    if actor is not None and not access.can_create_case(actor, office_id):
        raise Forbidden("your role may not register cases for this office")
    when = at or utcnow()
    case = Case(
        cause=data.cause,
        facts=data.facts,
        claim_fen=data.claim_fen,
        stage=Stage.INTAKE,
        source=source,
        office_id=office_id,
        tracking_code=tracking_code,
        created_at=when,
        updated_at=when,
        stage_entered_at=when,
        version=1,
    )
    db.add(case)
    await db.flush()
    for party in data.parties:
        await insert_party(db, actor, case, party, at=when)
    await log_change(
        db,
        actor,
        case,
        "created",
        "case.create",
        text=data.cause,
        to_stage=Stage.INTAKE,
        data={"source": source, "office_id": office_id, "parties": len(data.parties)},
        request=request,
        at=when,
        bump=False,
    )
    await db.flush()
    await db.refresh(case)
    return case


async def update_case(
    db: AsyncSession,
    actor: User,
    case: Case,
    data: CaseUpdate,
    request: web.Request | None = None,
) -> Case:
    """Change cause, facts or claim. With ``data.version`` set, a case changed by someone
    else since that version is refused (409 ``stale_version``) instead of overwritten."""
    if not access.can_edit_case(actor, case):
        raise Forbidden("you may not change this case")
    await lock_case(db, case)
    if data.version is not None and data.version != case.version:
        raise Conflict(
            f"the case was changed (version {case.version}, you edited {data.version}); "
            "reload and try again",
            code="stale_version",
        )
    changes: dict[str, object] = {}
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is None:
            raise Invalid(f"{field}: may not be null")
        if getattr(case, field) != value:
            changes[field] = [getattr(case, field), value]
            setattr(case, field, value)
    if changes:
        await log_change(
            db, actor, case, "updated", "case.update", data={"changes": changes}, request=request
        )
        await db.flush()
    return case


_ASSIGN_ROLES = {"mediator_id": Role.MEDIATOR, "judge_id": Role.JUDGE, "clerk_id": Role.CLERK}


async def assign(
    db: AsyncSession,
    actor: User,
    case: Case,
    *,
    mediator_id: int | None = None,
    judge_id: int | None = None,
    clerk_id: int | None = None,
    clear: tuple[str, ...] = (),
    request: web.Request | None = None,
) -> Case:
    """Assign the mediator, judge and clerk. ``None`` leaves a role as it is; name a role in
    ``clear`` ("mediator", "judge", "clerk") to remove its assignment. Each person must be
    an active user of that role (422 otherwise)."""
    if not access.can_assign(actor, case):
        raise Forbidden("only clerks and admins assign cases")
    await lock_case(db, case)
    wanted = {"mediator_id": mediator_id, "judge_id": judge_id, "clerk_id": clerk_id}
    changes: dict[str, object] = {}
    for field, user_id in wanted.items():
        role = _ASSIGN_ROLES[field]
        if field.removesuffix("_id") in clear:
            user_id = None
        elif user_id is None:
            continue
        else:
            person = await db.get(User, user_id)
            if person is None or not person.active or person.role != role:
                raise Invalid(
                    f"{field}: user {user_id} is not an active {role}", code="bad_assignee"
                )
        if getattr(case, field) != user_id:
            changes[field] = [getattr(case, field), user_id]
            setattr(case, field, user_id)
    if changes:
        await log_change(
            db, actor, case, "assigned", "case.assign", data={"changes": changes}, request=request
        )
        await db.flush()
        await db.refresh(case)  # reload the joined mediator/judge/clerk
    return case


async def transition(
    db: AsyncSession,
    actor: User,
    case: Case,
    to_stage: Stage,
    *,
    note: str = "",
    today: date | None = None,
    calendar: WorkCalendar,
    request: web.Request | None = None,
    settings: Settings | None = None,
    at: datetime | None = None,
) -> Case:
    """Move ``case`` to ``to_stage`` if ``server.stages.check_move`` allows it.

    Entering a numbered stage (pre-litigation mediation 民诉前调, filed 民初, judicial
    confirmation 民特) gives the case its next number for the court-local year. Entering
    fast_track sets ``fast_track_entered_on`` (court-local ``today``) and the deadline, 5
    working days later on ``calendar``. Entering mediated/adjudicated/withdrawn sets
    ``outcome`` (see ``server.stages.outcome_for``) and ``resolved_at``.
    """
    await lock_case(db, case)
    to_stage = Stage(to_stage)
    check_move(actor, case, to_stage, await latest_consents(db, case))
    now = at or utcnow()
    today = today or now.astimezone(court_tz(request, settings)).date()
    from_stage = Stage(case.stage)
    data: dict[str, object] = {}
    if to_stage == Stage.FAST_TRACK:
        # Computed before anything changes: an unknown calendar year refuses the move whole.
        case.fast_track_deadline = calendar.add_workdays(today, FAST_TRACK_WORKDAYS)
        case.fast_track_entered_on = today
        data["deadline"] = case.fast_track_deadline.isoformat()
    if to_stage in TRACKS:
        row = await assign_number(
            db, case, to_stage, court_code=court_code(request, settings), year=today.year, at=now
        )
        data["number"] = row.number
    case.stage = to_stage
    case.stage_entered_at = now
    if to_stage == Stage.PRE_LITIGATION_MEDIATION:
        case.was_pre_litigation = True
    if to_stage == Stage.FILED:
        case.was_filed = True
    outcome = outcome_for(from_stage, to_stage)
    if outcome is not None:
        case.outcome = outcome
        case.resolved_at = now
        data["outcome"] = outcome
    await log_change(
        db,
        actor,
        case,
        "transition",
        "case.transition",
        text=note,
        from_stage=from_stage,
        to_stage=to_stage,
        data=data or None,
        request=request,
        at=now,
    )
    await db.flush()
    return case


async def get_case(db: AsyncSession, case_id: int) -> Case:
    """A case by id without an access check (for the seed and background jobs)."""
    case = await db.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found", code="case_not_found")
    return case
