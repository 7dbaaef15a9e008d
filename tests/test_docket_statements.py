"""What a docket operation costs in SQL statements (the demo seed makes ~1,400 of them; see
bench/README.md "Demo seed"): registering a case, assigning its people and moving it reload
nothing the session already holds at the stored version, and a case changed by someone else
since it was loaded is still reloaded before it is changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server import docket
from server.docket.schemas import CaseCreate
from server.errors import Conflict
from server.models.accounts import Office, User
from server.models.docket import Case, Stage
from tests.docket_helpers import office_id, parties
from tests.helpers import make_user, statements, unit


async def test_register_assign_and_move_reload_nothing(client) -> None:
    admin = await make_user(client, "adm", "admin")
    mediator = await make_user(client, "med", "mediator")
    judge = await make_user(client, "jud", "judge")
    oid = await office_id(client, "center")
    async with unit(client.app, admin) as ctx:
        # What a caller already holds: the office and the people it assigns.
        held = [
            *(await ctx.db.scalars(select(Office))).all(),
            *(await ctx.db.scalars(select(User).where(User.id.in_([mediator.id, judge.id])))),
        ]
        data = CaseCreate(cause="民间借贷纠纷", claim_fen=100, parties=parties(True))
        async with statements(ctx) as create:
            case = await docket.create_case(ctx, data, office_id=oid)
        # The case, its two parties, their consents (one statement), the timeline entry and
        # the audit row.
        assert len(create) <= 6, create
        assert case.office.code == "center" and [p.name for p in case.parties] == ["张三", "李四"]
        async with statements(ctx) as assign:
            await docket.assign(ctx, case, mediator_id=mediator.id, judge_id=judge.id)
        # The lock, the case's UPDATE, the timeline entry, the audit row.
        assert len(assign) <= 4, assign
        assert case.mediator is not None and case.mediator.id == mediator.id
        assert case.judge is not None and case.judge.id == judge.id
        async with statements(ctx) as pre:
            await docket.transition(ctx, case, Stage.PRE_LITIGATION_MEDIATION)
        # Also the consents it needs and the number (its counter and its row).
        assert len(pre) <= 7, pre
        async with statements(ctx) as mediated:
            await docket.transition(ctx, case, Stage.MEDIATED)
        # No consent to read and no number to take: the lock and the three writes.
        assert len(mediated) <= 4, mediated
        assert case.outcome == "mediated_pre_litigation" and case.version == 4
        assert len(held) == 9  # seven offices, two people


async def test_a_case_changed_elsewhere_is_reloaded_before_it_moves(client) -> None:
    admin = await make_user(client, "adm", "admin")
    oid = await office_id(client, "center")
    async with unit(client.app, admin) as ctx:
        data = CaseCreate(cause="民间借贷纠纷", claim_fen=100, parties=parties(True))
        case = await docket.create_case(ctx, data, office_id=oid)
        await ctx.db.commit()
        # Someone else withdraws it meanwhile, in their own transaction.
        async with unit(client.app, admin) as other:
            theirs = await other.db.get(Case, case.id)
            assert theirs is not None
            await docket.transition(other, theirs, Stage.WITHDRAWN)
        assert case.stage == Stage.INTAKE  # what this session still holds
        with pytest.raises(Conflict) as refused:
            await docket.transition(ctx, case, Stage.FILED)
        assert refused.value.code == "illegal_transition"
        assert case.stage == Stage.WITHDRAWN and case.version == 2
