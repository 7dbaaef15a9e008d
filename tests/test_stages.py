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
from tests.docket_helpers import bearer, new_case, session
from tests.helpers import make_user

S = Stage
# DESIGN.md's table, written out again here so that a change to server.docket.stages shows up.
DESIGN_TABLE = {
    S.INTAKE: {S.PRE_LITIGATION_MEDIATION, S.FILED, S.WITHDRAWN},
    S.PRE_LITIGATION_MEDIATION: {S.MEDIATED, S.FILED, S.WITHDRAWN},
    S.FILED: {S.PRETRIAL_MEDIATION, S.FAST_TRACK, S.WITHDRAWN},
    S.PRETRIAL_MEDIATION: {S.MEDIATED, S.FAST_TRACK, S.WITHDRAWN},
    S.FAST_TRACK: {S.MEDIATED, S.ADJUDICATED, S.WITHDRAWN},
    S.MEDIATED: {S.JUDICIAL_CONFIRMATION, S.CLOSED},
    S.JUDICIAL_CONFIRMATION: {S.CLOSED},
    S.ADJUDICATED: {S.CLOSED},
    S.WITHDRAWN: {S.CLOSED},
    S.CLOSED: set(),
}
PAIRS = list(itertools.product(list(Stage), list(Stage)))
LEGAL = [(a, b) for a, b in PAIRS if b in DESIGN_TABLE[a]]


def _user(role: str, office_id: int = 1, uid: int = 1) -> User:
    return User(id=uid, role=role, office_id=office_id, username=role, display_name=role)


def _case(stage: Stage, *, pre: bool = True, office_id: int = 1) -> Case:
    case = Case(id=1, stage=stage, office_id=office_id, was_pre_litigation=pre)
    case.parties = [Party(id=1, side="applicant"), Party(id=2, side="respondent")]
    return case


YES = {1: True, 2: True}


def test_table_is_designs() -> None:
    assert {k: set(v) for k, v in TRANSITIONS.items()} == DESIGN_TABLE
    assert set(MOVERS) == set(LEGAL)
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
    assert err.value.details["allowed"] == [str(s) for s in TRANSITIONS[src]]
    for allowed in TRANSITIONS[src]:
        assert allowed in err.value.message


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


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_role_rules(src: Stage, dst: Stage) -> None:
    for role in ROLES:
        user = _user(role)
        may = role == Role.ADMIN or role in MOVERS[(src, dst)]
        assert (dst in allowed_moves(user, _case(src))) is may, role
        if may:
            check_move(user, _case(src), dst, YES)
        else:
            with pytest.raises(Forbidden):
                check_move(user, _case(src), dst, YES)


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
    """From ``src``, try every stage as the target on a fresh case: the table's moves succeed
    and leave one docket entry, the others are 409s naming the allowed stages."""
    admin = await make_user(client, "admin1", "admin")
    h = await bearer(client, "admin1")
    for dst in Stage:
        cid = await new_case(client, admin, stage=src, was_pre_litigation=True)
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
            assert moves == 1
            entry = body["timeline"][-1]
            assert (entry["from_stage"], entry["to_stage"], entry["text"]) == (src, dst, "n")
        else:
            assert resp.status == 409, body
            assert body["error"]["code"] == "illegal_transition"
            assert body["error"]["details"]["allowed"] == [str(s) for s in TRANSITIONS[src]]
            assert stored.stage == src and moves == 0


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
