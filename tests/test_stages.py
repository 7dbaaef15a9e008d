"""The stage machine of DESIGN.md: every legal and every illegal move of the table, the
consent rule, the role rules, the 409 body, and one docket entry per move."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from server.docket.stages import (
    CONSENT_REQUIRED,
    MOVERS,
    STAGE_LABELS,
    TRANSITIONS,
    allowed_moves,
    check_move,
)
from server.errors import Conflict, Forbidden
from server.models.accounts import Role, User
from server.models.docket import Case, DocketEntry, Party, Stage
from tests.docket_helpers import PATH_TO, bearer, new_case, session
from tests.helpers import make_user

S = Stage
# DESIGN.md's table, written out again here (in the order the product names the allowed
# stages) so that a change to server.docket.stages shows up.
DESIGN_TABLE: dict[Stage, tuple[Stage, ...]] = {
    S.INTAKE: (S.PRE_LITIGATION_MEDIATION, S.FILED, S.WITHDRAWN),
    S.PRE_LITIGATION_MEDIATION: (S.MEDIATED, S.FILED, S.WITHDRAWN),
    S.FILED: (S.PRETRIAL_MEDIATION, S.FAST_TRACK, S.WITHDRAWN),
    S.PRETRIAL_MEDIATION: (S.MEDIATED, S.FAST_TRACK, S.WITHDRAWN),
    S.FAST_TRACK: (S.MEDIATED, S.ADJUDICATED, S.WITHDRAWN),
    S.MEDIATED: (S.JUDICIAL_CONFIRMATION, S.CLOSED),
    S.JUDICIAL_CONFIRMATION: (S.CLOSED,),
    S.ADJUDICATED: (S.CLOSED,),
    S.WITHDRAWN: (S.CLOSED,),
    S.CLOSED: (),
}
PAIRS = list(itertools.product(list(Stage), list(Stage)))
LEGAL = [(a, b) for a, b in PAIRS if b in DESIGN_TABLE[a]]

# Who may make each move, written by hand (never read from server.docket.stages.MOVERS, so a
# wrong entry there fails here). "staff" is office staff of the case's own office; a pair not
# listed is allowed to nobody.
WHO_MAY_MOVE = """
from                      to                        admin clerk judge mediator staff
intake                    pre_litigation_mediation  yes   yes   -     yes      -
intake                    filed                     yes   yes   -     -        -
intake                    withdrawn                 yes   yes   -     -        yes
pre_litigation_mediation  mediated                  yes   -     -     yes      -
pre_litigation_mediation  filed                     yes   yes   -     -        -
pre_litigation_mediation  withdrawn                 yes   yes   -     yes      -
filed                     pretrial_mediation        yes   yes   -     yes      -
filed                     fast_track                yes   yes   yes   -        -
filed                     withdrawn                 yes   yes   yes   -        -
pretrial_mediation        mediated                  yes   -     -     yes      -
pretrial_mediation        fast_track                yes   yes   yes   yes      -
pretrial_mediation        withdrawn                 yes   yes   yes   yes      -
fast_track                mediated                  yes   -     yes   -        -
fast_track                adjudicated               yes   -     yes   -        -
fast_track                withdrawn                 yes   yes   yes   -        -
mediated                  judicial_confirmation     yes   -     yes   -        -
mediated                  closed                    yes   yes   -     -        -
judicial_confirmation     closed                    yes   yes   -     -        -
adjudicated               closed                    yes   yes   -     -        -
withdrawn                 closed                    yes   yes   -     -        -
"""
_COLUMNS = {
    "admin": Role.ADMIN,
    "clerk": Role.CLERK,
    "judge": Role.JUDGE,
    "mediator": Role.MEDIATOR,
    "staff": Role.OFFICE_STAFF,
}


def _may_move() -> dict[tuple[Stage, Stage, Role], bool]:
    lines = [line.split() for line in WHO_MAY_MOVE.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    table = {}
    for src, dst, *answers in rows:
        assert len(answers) == len(_COLUMNS) and set(answers) <= {"yes", "-"}
        for column, answer in zip(header[2:], answers, strict=True):
            table[(Stage(src), Stage(dst), _COLUMNS[column])] = answer == "yes"
    return table


MAY_MOVE = _may_move()


def _user(role: str, office_id: int = 1, uid: int = 1) -> User:
    return User(id=uid, role=role, office_id=office_id, username=role, display_name=role)


def _case(stage: Stage, *, pre: bool = True, office_id: int = 1) -> Case:
    # Assigned to the user of ``_user`` (id 1) in every role: only the role decides here.
    case = Case(
        id=1, stage=stage, office_id=office_id, was_pre_litigation=pre,
        mediator_id=1, judge_id=1, clerk_id=1,
    )  # fmt: skip
    case.parties = [Party(id=1, side="applicant"), Party(id=2, side="respondent")]
    return case


YES = {1: True, 2: True}


def test_table_is_designs() -> None:
    assert TRANSITIONS == DESIGN_TABLE
    assert len(LEGAL) == 20
    assert {(src, dst) for src, dst, _ in MAY_MOVE} == set(LEGAL) == set(MOVERS)
    assert {S.PRE_LITIGATION_MEDIATION, S.PRETRIAL_MEDIATION} == CONSENT_REQUIRED
    assert set(STAGE_LABELS) == set(Stage)


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair(src: Stage, dst: Stage) -> None:
    admin = _user(Role.ADMIN)
    case = _case(src)
    if dst in DESIGN_TABLE[src]:
        check_move(admin, case, dst, YES)
        return
    with pytest.raises(Conflict) as err:
        check_move(admin, case, dst, YES)
    assert err.value.code == "illegal_transition"
    assert err.value.details["allowed"] == [str(s) for s in DESIGN_TABLE[src]]
    # The message names the stages as people read them; ``details`` has their codes.
    if src == S.CLOSED:
        assert "the case is closed" in err.value.message
    else:
        assert DESIGN_TABLE[src]
        for allowed in DESIGN_TABLE[src]:
            assert STAGE_LABELS[allowed] in err.value.message


def test_judicial_confirmation_only_after_pre_litigation() -> None:
    admin = _user(Role.ADMIN)
    check_move(admin, _case(S.MEDIATED, pre=True), S.JUDICIAL_CONFIRMATION, YES)
    with pytest.raises(Conflict) as err:
        check_move(admin, _case(S.MEDIATED, pre=False), S.JUDICIAL_CONFIRMATION, YES)
    assert err.value.code == "illegal_transition"
    assert err.value.details["allowed"] == ["closed"]


@pytest.mark.parametrize("dst", sorted(CONSENT_REQUIRED))
def test_consent_of_every_party(dst: Stage) -> None:
    src = S.INTAKE if dst == S.PRE_LITIGATION_MEDIATION else S.FILED
    admin = _user(Role.ADMIN)
    for consents in ({}, {1: True}, {1: True, 2: False}, {1: False, 2: True}):
        with pytest.raises(Conflict) as err:
            check_move(admin, _case(src), dst, consents)
        assert err.value.code == "consent_required"
    check_move(admin, _case(src), dst, YES)
    # Both sides must be there: one consenting applicant alone is not a mediation.
    lonely = _case(src)
    lonely.parties = [Party(id=1, side="applicant")]
    with pytest.raises(Conflict):
        check_move(admin, lonely, dst, {1: True})


ROLES = [Role.ADMIN, Role.CLERK, Role.JUDGE, Role.MEDIATOR, Role.OFFICE_STAFF]


@pytest.mark.parametrize(("src", "dst"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
@pytest.mark.parametrize("role", ROLES)
def test_role_rules(src: Stage, dst: Stage, role: Role) -> None:
    """Every (stage, stage, role) against the hand-written table, on a case assigned to the
    user in every role (so only the role decides)."""
    user = _user(role)
    may = MAY_MOVE.get((src, dst, role), False)
    assert (dst in allowed_moves(user, _case(src))) is may
    if may:
        check_move(user, _case(src), dst, YES)
    else:
        with pytest.raises((Forbidden, Conflict)) as err:
            check_move(user, _case(src), dst, YES)
        legal = (src, dst) in LEGAL
        assert err.type is (Forbidden if legal else Conflict)
    if role == Role.OFFICE_STAFF:
        # Staff of another street office may make no move at all on this case.
        assert allowed_moves(_user(role, office_id=2), _case(src)) == []


def test_role_rules_that_matter() -> None:
    clerk, judge, mediator = _user(Role.CLERK), _user(Role.JUDGE), _user(Role.MEDIATOR)
    # The clerk's path of the issue: register, mediate, file, fast-track.
    assert allowed_moves(clerk, _case(S.INTAKE)) == [
        S.PRE_LITIGATION_MEDIATION,
        S.FILED,
        S.WITHDRAWN,
    ]
    assert S.FAST_TRACK in allowed_moves(clerk, _case(S.FILED))
    assert allowed_moves(clerk, _case(S.FAST_TRACK)) == [S.WITHDRAWN]
    assert allowed_moves(judge, _case(S.FAST_TRACK)) == [S.MEDIATED, S.ADJUDICATED, S.WITHDRAWN]
    assert allowed_moves(mediator, _case(S.PRE_LITIGATION_MEDIATION)) == [S.MEDIATED, S.WITHDRAWN]
    assert allowed_moves(judge, _case(S.MEDIATED)) == [S.JUDICIAL_CONFIRMATION]
    # Office staff: only withdrawing an intake case, and only for their own office.
    assert allowed_moves(_user(Role.OFFICE_STAFF, 1), _case(S.INTAKE)) == [S.WITHDRAWN]
    assert allowed_moves(_user(Role.OFFICE_STAFF, 2), _case(S.INTAKE)) == []
    assert allowed_moves(_user(Role.OFFICE_STAFF, 1), _case(S.FILED)) == []


@pytest.mark.parametrize("src", list(Stage))
async def test_every_move_through_the_api(client, src: Stage) -> None:
    """From ``src`` (reached by the product's own moves), try every stage as the target on a
    fresh case: the table's moves succeed and leave one docket entry more, the others are
    409s naming the allowed stages."""
    admin = await make_user(client, "admin1", "admin")
    h = await bearer(client, "admin1")
    before = len(PATH_TO[src])
    for dst in Stage:
        cid = await new_case(client, admin, stage=src)
        resp = await client.post(
            f"/api/v1/cases/{cid}/transitions", json={"to": dst, "note": "n"}, headers=h
        )
        body = await resp.json()
        async with session(client) as db:
            moves = await db.scalar(
                select(func.count()).where(
                    DocketEntry.case_id == cid, DocketEntry.kind == "transition"
                )
            )
            stored = await db.get(Case, cid)
            assert stored is not None
        if dst in DESIGN_TABLE[src]:
            assert resp.status == 200, body
            assert body["stage"] == dst and stored.stage == dst
            assert moves == before + 1
            entry = body["timeline"][-1]
            assert (entry["from_stage"], entry["to_stage"], entry["text"]) == (src, dst, "n")
        else:
            assert resp.status == 409, body
            assert body["error"]["code"] == "illegal_transition"
            assert body["error"]["details"]["allowed"] == [str(s) for s in DESIGN_TABLE[src]]
            assert stored.stage == src and moves == before


async def test_forbidden_and_consent_via_api(client) -> None:
    admin = await make_user(client, "admin1", "admin")
    await make_user(client, "staff1", "office_staff", "qiaotou")
    await make_user(client, "judge1", "judge")
    cid = await new_case(client, admin, office="qiaotou", consent=None)
    hs = await bearer(client, "staff1")
    resp = await client.post(f"/api/v1/cases/{cid}/transitions", json={"to": "filed"}, headers=hs)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "move_forbidden"
    hj = await bearer(client, "judge1")
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "pre_litigation_mediation"}, headers=hj
    )
    assert resp.status == 403
    ha = await bearer(client, "admin1")
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "pre_litigation_mediation"}, headers=ha
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "consent_required"
    # The resident withdraws at their street office.
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "withdrawn"}, headers=hs
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["outcome"] == "withdrawn" and body["resolved_at"]
    assert body["number"] is None  # never numbered: it left at reception


@pytest.mark.parametrize(
    ("path", "outcome"),
    [
        (["pre_litigation_mediation", "mediated"], "mediated_pre_litigation"),
        (["filed", "pretrial_mediation", "mediated"], "mediated_pretrial"),
        (["filed", "fast_track", "mediated"], "mediated_fast_track"),
        (["filed", "fast_track", "adjudicated"], "adjudicated"),
    ],
)
async def test_outcomes(client, path: list[str], outcome: str) -> None:
    admin = await make_user(client, "admin1", "admin")
    h = await bearer(client, "admin1")
    cid = await new_case(client, admin)
    for stage in path:
        resp = await client.post(f"/api/v1/cases/{cid}/transitions", json={"to": stage}, headers=h)
        assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["outcome"] == outcome
    assert body["was_pre_litigation"] is (path[0] == "pre_litigation_mediation")
    assert body["was_filed"] is ("filed" in path)
    if outcome == "mediated_pre_litigation":
        resp = await client.post(
            f"/api/v1/cases/{cid}/transitions", json={"to": "judicial_confirmation"}, headers=h
        )
        assert resp.status == 200
        body = await resp.json()
        assert body["number"].endswith("号") and "民特" in body["number"]
        assert body["outcome"] == outcome  # confirmation keeps where it was mediated
