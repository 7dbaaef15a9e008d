"""A street office's call to the center's duty desk, from the terminal's button to its end.

A call rings the people on duty one more each ``settings.desk_ring_seconds``, in roster
order (the first is the lead of the half-day; ringing everyone at once would pull every
mediator out of what they are doing for each call), then the whole center's judges and
mediators for one more period; nobody having accepted by then, it is *missed* and the office
may leave a call-back request. Who rings is worked out from the clock (``ringing_whom``), so
every node of a cluster agrees without a timer of its own. The first to accept wins (one
conditional UPDATE): the call becomes a live session (``server.desk.intake``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from server import access, audit
from server.context import Context
from server.desk.intake import close_as_advice, open_reception
from server.desk.roster import on_duty_now
from server.errors import Conflict, Forbidden, NotFound
from server.models.desk import CallStatus, DeskCall
from server.models.sessions import MediationSession, SessionStatus

OPEN = (CallStatus.RINGING, CallStatus.ANSWERED)
# A call-back may be asked for while the call rings (the resident will not wait) or after.
CALLBACK_FROM = (CallStatus.RINGING, CallStatus.MISSED, CallStatus.CANCELLED)


def ring_period(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.desk_ring_seconds)


def ringing_whom(call: DeskCall, now: datetime, period: timedelta) -> list[int] | None:
    """Whom a ringing call rings at ``now``: the first k on its roster (k grows by one each
    period), or ``None``: the whole center, once the roster has had its turn."""
    stage = max(0, int((now - call.called_at) / period))
    roster = call.roster_ids
    return roster[: stage + 1] if stage < len(roster) else None


def gives_up_at(call: DeskCall, period: timedelta) -> datetime:
    """When an unanswered call is missed: each on the roster rang a period, then everyone."""
    return call.called_at + period * (len(call.roster_ids) + 1)


async def get_call(ctx: Context, call_id: int) -> DeskCall:
    call = await ctx.db.get(DeskCall, call_id)
    if call is None or not access.can_view_call(ctx.require_user(), call):
        raise NotFound("call {id} not found", code="call_not_found", values={"id": call_id})
    return call


async def office_call(ctx: Context, office_id: int) -> DeskCall | None:
    """The office's call still ringing or live, if any."""
    return await ctx.db.scalar(
        select(DeskCall)
        .where(DeskCall.office_id == office_id, DeskCall.status.in_(OPEN))
        .order_by(DeskCall.id.desc())
        .limit(1)
    )


async def place_call(ctx: Context) -> DeskCall:
    """The office terminal's button. An office has one call at a time: pressing again (or a
    terminal that reconnects) gets the call already ringing or live."""
    user = ctx.require_user()
    if not access.can_place_call(user):
        raise Forbidden("only a street office's account calls the center", code="may_not_call")
    existing = await office_call(ctx, user.office_id)
    if existing is not None:
        return existing
    roster = await on_duty_now(ctx)
    call = DeskCall(
        office_id=user.office_id,
        caller_id=user.id,
        status=CallStatus.RINGING,
        called_at=ctx.now(),
        roster=",".join(str(p.id) for p in roster),
        callback_note="",
    )
    ctx.db.add(call)
    await ctx.db.flush()
    await audit.record(ctx, "desk.call", "call", call.id, office_id=user.office_id)
    ctx.signal_after_commit("desk")
    return call


async def queue_position(ctx: Context, call: DeskCall) -> int:
    """1 for the oldest ringing call: how many offices wait before this one, plus one."""
    if call.status != CallStatus.RINGING:
        return 0
    ahead = await ctx.db.scalar(
        select(func.count(DeskCall.id)).where(
            DeskCall.status == CallStatus.RINGING, DeskCall.id < call.id
        )
    )
    return int(ahead or 0) + 1


async def accept(ctx: Context, call_id: int) -> DeskCall:
    """Answer a ringing call: the first to accept gets it, the others are told 409."""
    user = ctx.require_user()
    if not access.can_answer_call(user):
        raise Forbidden(
            "only the center's judges and mediators answer calls", code="may_not_answer"
        )
    call = await get_call(ctx, call_id)
    now = ctx.now()
    taken = await ctx.db.execute(
        update(DeskCall)
        .where(DeskCall.id == call_id, DeskCall.status == CallStatus.RINGING)
        .values(status=CallStatus.ANSWERED, answered_at=now, answered_by_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("someone else answered this call, or it ended", code="call_taken")
    await ctx.db.refresh(call)
    case, session = await open_reception(ctx, call, user)
    call.case_id, call.session_id = case.id, session.id
    await audit.record(
        ctx, "desk.answer", "call", call.id, session_id=session.id, case_id=case.id,
        seconds=round((now - call.called_at).total_seconds(), 1),
    )  # fmt: skip
    ctx.signal_after_commit("desk")
    return call


async def hang_up(ctx: Context, call_id: int) -> DeskCall:
    """The office gives up on a call nobody has answered yet."""
    user = ctx.require_user()
    call = await get_call(ctx, call_id)
    if not access.can_place_call(user):
        raise Forbidden("only the calling office hangs up", code="may_not_call")
    if call.status != CallStatus.RINGING:
        raise Conflict("this call is no longer ringing", code="call_not_ringing")
    call.status = CallStatus.CANCELLED
    call.ended_at = ctx.now()
    await audit.record(ctx, "desk.hang_up", "call", call.id)
    ctx.signal_after_commit("desk")
    return call


async def request_callback(ctx: Context, call_id: int, phone: str, note: str) -> DeskCall:
    """The office asks the center to call back (the call stops ringing)."""
    user = ctx.require_user()
    call = await get_call(ctx, call_id)
    if not access.can_place_call(user):
        raise Forbidden("only the calling office asks for a call-back", code="may_not_call")
    if call.status not in CALLBACK_FROM:
        raise Conflict("this call was answered", code="call_answered")
    if call.status == CallStatus.RINGING:
        call.status = CallStatus.CANCELLED
        call.ended_at = ctx.now()
    call.callback_phone = phone or None
    call.callback_note = note
    call.callback_requested_at = ctx.now()
    await audit.record(ctx, "desk.callback", "call", call.id)
    ctx.signal_after_commit("desk")
    return call


async def mark_called_back(ctx: Context, call_id: int) -> DeskCall:
    """Someone at the center has called the office (or the resident) back."""
    user = ctx.require_user()
    if not access.can_call_back(user):
        raise Forbidden("the center calls back", code="may_not_call_back")
    call = await get_call(ctx, call_id)
    if call.status not in (CallStatus.MISSED, CallStatus.CANCELLED):
        raise Conflict("only a missed or abandoned call is called back", code="not_missed")
    if call.called_back_at is not None:
        raise Conflict("this call was called back already", code="called_back")
    call.called_back_at = ctx.now()
    call.called_back_by_id = user.id
    await audit.record(ctx, "desk.called_back", "call", call.id)
    return call


async def sweep(ctx: Context) -> bool:
    """Bring calls up to date with the clock and the sessions: a ringing call past its last
    ring is missed; an answered call whose session has ended is over (advice only, unless it
    became or joined a case). Idempotent; every node's desk may run it. True if any changed."""
    now, period, changed = ctx.now(), ring_period(ctx), False
    for call in await ctx.db.scalars(select(DeskCall).where(DeskCall.status == CallStatus.RINGING)):
        if gives_up_at(call, period) <= now:
            call.status, call.ended_at, changed = CallStatus.MISSED, gives_up_at(call, period), True
            await audit.record(ctx, "desk.missed", "call", call.id)
    over = await ctx.db.execute(
        select(DeskCall, MediationSession.ended_at)
        .join(MediationSession, MediationSession.id == DeskCall.session_id)
        .where(
            DeskCall.status == CallStatus.ANSWERED,
            MediationSession.status.in_((SessionStatus.ENDED, SessionStatus.CANCELLED)),
        )
    )
    for call, ended_at in over:
        call.status, call.ended_at, changed = CallStatus.ENDED, ended_at or now, True
        if call.outcome is None:
            await close_as_advice(ctx, call)
    return changed


async def ringing_calls(ctx: Context) -> list[DeskCall]:
    return list(
        await ctx.db.scalars(
            select(DeskCall).where(DeskCall.status == CallStatus.RINGING).order_by(DeskCall.id)
        )
    )


async def calls_between(
    ctx: Context, start: datetime, end: datetime, office_id: int | None = None
) -> list[DeskCall]:
    query = select(DeskCall).where(DeskCall.called_at >= start, DeskCall.called_at < end)
    if office_id is not None:
        query = query.where(DeskCall.office_id == office_id)
    return list(await ctx.db.scalars(query.order_by(DeskCall.id.desc())))
