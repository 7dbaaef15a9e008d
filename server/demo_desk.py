"""The demo's year at the duty desk (视频接访): the street offices' calls to the center, so
that the reports page's reception figures and chart show a year of them, not zeros.

Every call goes through ``server.desk``'s own operations, as the person who took each step
and on a clock stopped at its moment (``Seeder.as_of``): placed by the office's account,
answered by a mediator or judge, joined to a case, ended, swept, called back. So the answer
times, the misses and the call-backs in the figures are the desk's real ones.

The calls follow the year's cases. A street office that registered a dispute in person often
called the center about it at once: the call was answered (mostly within the 30 s standard,
sometimes after it) and joined to the case the office had just registered, whose mediator
took it; its session, ended, belongs to that case. A few were advice only (咨询): answered,
talked through and ended with nothing registered, so their reception cases are withdrawn and
the report does not count them. Some calls went unanswered, either rung out (missed) or given
up by the office with a call-back request, and most of those were called back within hours.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from server.context import Context
from server.demo_data import DEMO_YEAR, STREET_OFFICES, PlannedCase, filed_online
from server.desk import calls
from server.desk.intake import attach
from server.models.accounts import User
from server.models.docket import Case
from server.models.sessions import MediationSession
from server.sessions import end_session, mark_open

ATTACHED, ADVICE, MISSED, ABANDONED = "attached", "advice", "missed", "abandoned"
# After registering a dispute, the office calls the center this much later.
CALL_AFTER = timedelta(minutes=5)
# Shares of the street offices' in-person registrations followed by a call: answered and
# joined to the case, answered for advice only, rung out, given up with a call-back request.
SHARES = ((ATTACHED, 0.13), (ADVICE, 0.04), (MISSED, 0.04), (ABANDONED, 0.03))
ANSWERED = (ATTACHED, ADVICE)

AsOf = Callable[[User | None, datetime], Context]


@dataclass(frozen=True)
class PlannedCall:
    kind: str
    wait_s: int  # rang this long before the answer, or before the office gave up
    minutes: int  # an answered call's length
    called_back_after: timedelta | None  # an unanswered call's call-back, if any


def plan_calls(planned: list[PlannedCase]) -> dict[int, PlannedCall]:
    """The calls that followed the year's cases, by the case's index in ``planned``: a
    fixed plan, drawn from its own generator so the cases' plan does not change."""
    rng = random.Random(DEMO_YEAR * 7)
    out: dict[int, PlannedCall] = {}
    for i, case in enumerate(planned):
        if case.office not in STREET_OFFICES or filed_online(i, case.office):
            continue
        draw, kind = rng.random(), ""
        for name, share in SHARES:
            if draw < share:
                kind = name
                break
            draw -= share
        if not kind:
            continue
        # Nine answers in ten within the 30 s standard (the first on the roster); the rest
        # after the next person was rung.
        wait = rng.randint(4, 28) if rng.random() < 0.9 else rng.randint(34, 75)
        back = None if rng.random() < 0.25 else timedelta(minutes=rng.randint(20, 240))
        out[i] = PlannedCall(kind, wait, rng.randint(3, 8), None if kind in ANSWERED else back)
    return out


async def run_call(
    as_of: AsOf,
    call: PlannedCall,
    at: datetime,
    *,
    office: User,
    host: User,
    clerk: User,
    case: Case,
) -> None:
    """Place ``call`` from ``office``'s account at ``at`` and take it to its end."""
    placed = await calls.place_call(as_of(office, at))
    if call.kind in ANSWERED:
        answered = at + timedelta(seconds=call.wait_s)
        ctx = as_of(host, answered)
        placed = await calls.accept(ctx, placed.id)
        session = await ctx.db.get(MediationSession, placed.session_id)
        assert session is not None
        await mark_open(ctx, session)  # the host is in the room at once
        if call.kind == ATTACHED:
            await attach(as_of(host, answered + timedelta(seconds=90)), placed, case.id)
        ended = as_of(host, answered + timedelta(minutes=call.minutes))
        await ended.db.refresh(session)  # moved to ``case`` by an attach
        await end_session(ended, session)
        await calls.sweep(ended)  # the session over: the call is over (advice: withdrawn)
        return
    gave_up = at + timedelta(seconds=call.wait_s)
    if call.kind == ABANDONED:
        note = "居民不能久等，请回电街道办"
        await calls.request_callback(as_of(office, gave_up), placed.id, "", note)
    else:
        await calls.sweep(as_of(None, at + timedelta(minutes=5)))  # rung out: missed
    if call.called_back_after is not None:
        await calls.mark_called_back(as_of(clerk, gave_up + call.called_back_after), placed.id)
