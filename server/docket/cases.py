"""Cases on the docket: register them, change them, assign people, and move them through the
stages.

Every function takes the ``Context`` first, raises ``server.errors`` classes, and leaves one
docket entry and one audit row per change in the context's transaction (``docket.log``), at
``ctx.now()`` and for ``ctx.actor``; the demo backdates a step by setting the clock. The
stage rules live in ``server.docket.stages``; this module applies a checked move to the case.
"""

from __future__ import annotations

from sqlalchemy import select

from server import access
from server.context import Context
from server.docket.log import lock_case, log_change
from server.docket.numbers import TRACKS, assign_number, new_code
from server.docket.parties import add_initial_consents, latest_consents, new_parties
from server.docket.schemas import CaseCreate, CaseUpdate
from server.docket.stages import (
    CONSENT_REQUIRED,
    FAST_TRACK_WORKDAYS,
    check_move,
    outcome_for,
)
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.models.accounts import Office, Role, User
from server.models.docket import Case, Stage


def registration_source(user: User | None, *, online: bool = False) -> str:
    """Where a dispute was received: at a street office when its staff register it, else
    online (the public form) or at the court."""
    if user is not None and user.role == Role.OFFICE_STAFF:
        return "office"
    return "online" if online else "court"


async def resolve_office(ctx: Context, code: str | None) -> int:
    """The office a new case belongs to: the office named by ``code``, or the user's office
    when none is named. Unknown codes are 422; whether the user may register for that office
    is ``create_case``'s check."""
    if code:
        office_id = await ctx.db.scalar(select(Office.id).where(Office.code == code))
        if office_id is None:
            raise Invalid(
                "office: unknown office {office!r}", code="unknown_office", values={"office": code}
            )
        return office_id
    if ctx.user is None:
        raise Invalid("office: choose an office")
    return ctx.user.office_id


async def create_case(
    ctx: Context,
    data: CaseCreate,
    *,
    office_id: int,
    source: str | None = None,
    tracking_code: str | None = None,
) -> Case:
    """Register a dispute at ``intake`` with its parties (and their consent answers).

    Without a user it is the public online-reception form (the caller rate-limits it) or the
    system; a user must be allowed by ``access.can_create_case``. ``data.office`` is ignored
    here: the caller resolves it with ``resolve_office``. ``source`` defaults to
    ``registration_source`` of the user.
    """
    user = ctx.user
    if user is not None and not access.can_create_case(user, office_id):
        raise Forbidden("your role may not register cases for this office")
    source = source or registration_source(user)
    # The case is built whole (office, nobody assigned yet, parties) so that it needs no
    # reload after its INSERTs; the office is usually in the session already.
    office = await ctx.db.get(Office, office_id)
    if office is None:
        raise Invalid(
            "office: unknown office {office}", code="unknown_office", values={"office": office_id}
        )
    when = ctx.now()
    case = Case(
        cause=data.cause,
        facts=data.facts,
        claim_fen=data.claim_fen,
        stage=Stage.INTAKE,
        source=source,
        office_id=office_id,
        office=office,
        mediator=None,
        judge=None,
        clerk=None,
        # Every case has one: the resident looks it up by it, and it is the case's mail
        # address. Drawn without asking the table first (a registration stays at its six
        # statements): a clash, about one in ten million registrations at 100,000 cases, is
        # the unique constraint's refusal and the registration is sent again.
        tracking_code=tracking_code or new_code(),
        created_at=when,
        updated_at=when,
        stage_entered_at=when,
        version=1,
        parties=new_parties(data.parties),
    )
    ctx.db.add(case)
    await ctx.db.flush()  # the case and its parties, for their ids
    await add_initial_consents(ctx, case, data.parties)
    await log_change(
        ctx,
        case,
        "created",
        "case.create",
        text=data.cause,
        to_stage=Stage.INTAKE,
        data={"source": source, "office_id": office_id, "parties": len(data.parties)},
        bump=False,
    )
    await ctx.db.flush()
    return case


async def update_case(ctx: Context, case: Case, data: CaseUpdate) -> Case:
    """Change cause, facts or claim. With ``data.version`` set, a case changed by someone
    else since that version is refused (409 ``stale_version``) instead of overwritten."""
    if not access.can_edit_case(ctx.require_user(), case):
        raise Forbidden("you may not change this case")
    await lock_case(ctx, case)
    if data.version is not None and data.version != case.version:
        raise Conflict(
            "the case was changed (version {now}, you edited {edited}); reload and try again",
            values={"now": case.version, "edited": data.version},
            code="stale_version",
        )
    changes: dict[str, object] = {}
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is None:
            raise Invalid("{field}: may not be null", values={"field": field})
        if getattr(case, field) != value:
            changes[field] = [getattr(case, field), value]
            setattr(case, field, value)
    if changes:
        await log_change(ctx, case, "updated", "case.update", data={"changes": changes})
        await ctx.db.flush()
    return case


_ASSIGN_ROLES = {"mediator_id": Role.MEDIATOR, "judge_id": Role.JUDGE, "clerk_id": Role.CLERK}


async def assign(
    ctx: Context,
    case: Case,
    *,
    mediator_id: int | None = None,
    judge_id: int | None = None,
    clerk_id: int | None = None,
    clear: tuple[str, ...] = (),
) -> Case:
    """Assign the mediator, judge and clerk. ``None`` leaves a role as it is; name a role in
    ``clear`` ("mediator", "judge", "clerk") to remove its assignment. Each person must be
    an active user of that role (422 otherwise)."""
    if not access.can_assign(ctx.require_user(), case):
        raise Forbidden("only clerks and admins assign cases")
    await lock_case(ctx, case)
    wanted = {"mediator_id": mediator_id, "judge_id": judge_id, "clerk_id": clerk_id}
    changes: dict[str, object] = {}
    for field, user_id in wanted.items():
        role = _ASSIGN_ROLES[field]
        person: User | None = None
        if field.removesuffix("_id") in clear:
            user_id = None
        elif user_id is None:
            continue
        else:
            person = await ctx.db.get(User, user_id)
            if person is None or not person.active or person.role != role:
                raise Invalid(
                    "{field}: user {id} is not an active {role}",
                    code="bad_assignee",
                    values={"field": field, "id": user_id, "role": role},
                )
        if getattr(case, field) != user_id:
            changes[field] = [getattr(case, field), user_id]
            setattr(case, field, user_id)
            # The joined person too, so the case needs no reload to show who it is.
            setattr(case, field.removesuffix("_id"), person)
    if changes:
        await log_change(ctx, case, "assigned", "case.assign", data={"changes": changes})
        await ctx.db.flush()
    return case


async def transition(ctx: Context, case: Case, to_stage: Stage, *, note: str = "") -> Case:
    """Move ``case`` to ``to_stage`` if ``server.docket.stages.check_move`` allows the user.

    Entering a numbered stage (pre-litigation mediation 民诉前调, filed 民初, judicial
    confirmation 民特) gives the case its next number for the court-local year. Entering
    fast_track sets ``fast_track_entered_on`` (``ctx.today()``) and the deadline, 5 working
    days later on ``ctx.calendar`` (marked provisional when counted over a provisional year).
    Entering mediated/adjudicated/withdrawn sets ``outcome`` (see
    ``server.docket.stages.outcome_for``) and ``resolved_at``.
    """
    user = ctx.require_user()
    await lock_case(ctx, case)
    to_stage = Stage(to_stage)
    # Only a move into mediation asks about consent; the others need not read it.
    consents = await latest_consents(ctx, case) if to_stage in CONSENT_REQUIRED else {}
    check_move(user, case, to_stage, consents)
    now, today = ctx.now(), ctx.today()
    from_stage = Stage(case.stage)
    data: dict[str, object] = {}
    if to_stage == Stage.FAST_TRACK:
        # A year no official schedule covers yet is counted on the provisional calendar, and
        # the deadline says so (server.docket.deadlines recomputes it once official).
        deadline = ctx.calendar.deadline(today, FAST_TRACK_WORKDAYS)
        case.fast_track_deadline = deadline.day
        case.fast_track_deadline_provisional = deadline.provisional
        case.fast_track_entered_on = today
        data["deadline"] = deadline.day.isoformat()
        if deadline.provisional:
            data["provisional"] = True
    if to_stage in TRACKS:
        row = await assign_number(ctx, case, to_stage)
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
        ctx,
        case,
        "transition",
        "case.transition",
        text=note,
        from_stage=from_stage,
        to_stage=to_stage,
        data=data or None,
    )
    await ctx.db.flush()
    return case


async def get_case(ctx: Context, case_id: int) -> Case:
    """A case by id without an access check (for the seed and background jobs)."""
    case = await ctx.db.get(Case, case_id)
    if case is None:
        raise NotFound("case {id} not found", code="case_not_found", values={"id": case_id})
    return case
