"""The docket API end to end: register, parties, consent, assign, move through the stages,
search, the timeline and the audit log, the overdue and due-soon lists."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from server.models.audit import AuditEntry
from server.models.docket import DocketEntry, Stage
from server.web.keys import COURT
from tests.docket_helpers import (
    OTHER_ID,
    PERSON_ID,
    bearer,
    court_today,
    load,
    new_case,
    session,
)
from tests.helpers import make_user

NEW_CASE = {
    "cause": "买卖合同纠纷",
    "facts": "货款未付",
    "claim_fen": 1234567,
    "parties": [
        {"side": "applicant", "name": "王五", "id_number": PERSON_ID, "phone": "13900000000"},
        {"side": "respondent", "kind": "organisation", "name": "某某有限公司"},
    ],
}


async def _auth(client, username, role, office="center"):  # type: ignore[no-untyped-def]
    user = await make_user(client, username, role, office)
    return user, await bearer(client, username)


def _stand_clock(client, day: date) -> None:  # type: ignore[no-untyped-def]
    """Stop the court's clock at ``day``'s local noon."""
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo("Asia/Shanghai"))
    client.app[COURT].clock = lambda: noon.astimezone(UTC)
    assert court_today(client.app) == day


async def test_clerk_walks_a_case_to_fast_track(client) -> None:
    _stand_clock(client, date(2026, 11, 18))  # a Wednesday
    clerk, h = await _auth(client, "clerk1", "clerk")
    resp = await client.post("/api/v1/cases", json=NEW_CASE, headers=h)
    assert resp.status == 201, await resp.text()
    case = await resp.json()
    cid = case["id"]
    assert case["stage"] == "intake" and case["number"] is None
    assert case["claim_yuan"] == "12,345.67"
    assert case["office"] == "center" and case["source"] == "court"
    # Not assigned: the clerk sees the ID number masked.
    assert case["parties"][0]["id_number"] == "140***********1232"
    assert case["identity_visible"] is False
    assert set(case["allowed_moves"]) == {"pre_litigation_mediation", "filed", "withdrawn"}
    assert case["consent_complete"] is False

    # Mediation needs both parties' consent.
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "pre_litigation_mediation"}, headers=h
    )
    assert resp.status == 409
    body = await resp.json()
    assert body["error"]["code"] == "consent_required"
    assert len(body["error"]["details"]["missing"]) == 2

    assert len(case["parties"]) == 2
    for party in case["parties"]:
        resp = await client.post(
            f"/api/v1/cases/{cid}/consents",
            json={"party_id": party["id"], "consents": True, "note": "电话确认"},
            headers=h,
        )
        assert resp.status == 201, await resp.text()

    # Assigning the clerk to the case unmasks the ID numbers for them.
    resp = await client.post(
        f"/api/v1/cases/{cid}/assignment", json={"clerk_id": clerk.id}, headers=h
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["clerk"]["id"] == clerk.id
    assert body["parties"][0]["id_number"] == PERSON_ID
    assert body["consent_complete"] is True

    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions",
        json={"to": "pre_litigation_mediation", "note": "双方同意调解"},
        headers=h,
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["number"] == "（2026）晋0303民诉前调1号"
    assert body["was_pre_litigation"] is True

    resp = await client.post(f"/api/v1/cases/{cid}/transitions", json={"to": "filed"}, headers=h)
    assert resp.status == 200, await resp.text()
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "fast_track"}, headers=h
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["number"] == "（2026）晋0303民初1号"
    assert [n["track"] for n in body["numbers"]] == ["民诉前调", "民初"]
    assert body["fast_track_entered_on"] == "2026-11-18"
    assert body["fast_track_deadline"] == "2026-11-25"  # Thu, Fri, Mon, Tue, Wed
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds == ["created", "consent", "consent", "assigned"] + ["transition"] * 3
    assert [e["to_stage"] for e in body["timeline"] if e["kind"] == "transition"] == [
        "pre_litigation_mediation",
        "filed",
        "fast_track",
    ]
    assert body["timeline"][-3]["text"] == "双方同意调解"
    # The clerk may not adjudicate: a judge's move.
    resp = await client.post(
        f"/api/v1/cases/{cid}/transitions", json={"to": "adjudicated"}, headers=h
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "move_forbidden"

    async with session(client) as db:
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions[-7:] == [
        "case.create",
        "consent.record",
        "consent.record",
        "case.assign",
        "case.transition",
        "case.transition",
        "case.transition",
    ]


async def test_update_case_and_party(client) -> None:
    _, h = await _auth(client, "clerk1", "clerk")
    cid = (await (await client.post("/api/v1/cases", json=NEW_CASE, headers=h)).json())["id"]
    resp = await client.patch(
        f"/api/v1/cases/{cid}", json={"claim_fen": 500, "version": 1}, headers=h
    )
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["claim_fen"] == 500 and body["version"] == 2
    # An edit made on version 1 no longer applies.
    resp = await client.patch(f"/api/v1/cases/{cid}", json={"cause": "x", "version": 1}, headers=h)
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "stale_version"

    resp = await client.post(
        f"/api/v1/cases/{cid}/parties",
        json={"side": "respondent", "name": "赵六", "id_number": OTHER_ID, "consent": False},
        headers=h,
    )
    assert resp.status == 201, await resp.text()
    party = await resp.json()
    assert party["consent"] is False and party["id_number_masked"] is True
    resp = await client.patch(
        f"/api/v1/cases/{cid}/parties/{party['id']}",
        json={"phone": "13700000000", "id_number": ""},
        headers=h,
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["phone"] == "13700000000"
    resp = await client.patch(
        f"/api/v1/cases/{cid}/parties/{party['id']}",
        json={"kind": "organisation", "id_number": PERSON_ID},
        headers=h,
    )
    assert resp.status == 422
    resp = await client.get(f"/api/v1/cases/{cid}/timeline", headers=h)
    entries = await resp.json()
    assert [e["kind"] for e in entries] == ["created", "updated", "party_added", "party_updated"]
    # The timeline never carries an ID number in clear.
    assert PERSON_ID not in str(entries) and OTHER_ID not in str(entries)


async def test_search_filters_and_pages(client) -> None:
    admin, h = await _auth(client, "admin1", "admin")
    mediator = await make_user(client, "med1", "mediator")
    ids = []
    for i in range(25):
        ids.append(
            await new_case(
                client,
                admin,
                office="qiaotou" if i % 5 == 0 else "center",
                cause="物业服务合同纠纷" if i == 7 else "民间借贷纠纷",
                mediator_id=mediator.id if i < 3 else None,
            )
        )
    resp = await client.get("/api/v1/cases?per_page=10&page=3", headers=h)
    body = await resp.json()
    assert body["total"] == 25 and body["pages"] == 3 and len(body["items"]) == 5
    assert body["items"][-1]["id"] == ids[0]  # newest first

    resp = await client.get("/api/v1/cases", params={"q": "物业"}, headers=h)
    assert [c["id"] for c in (await resp.json())["items"]] == [ids[7]]
    resp = await client.get("/api/v1/cases", params={"q": "张三", "per_page": 100}, headers=h)
    assert (await resp.json())["total"] == 25  # party name
    resp = await client.get("/api/v1/cases", params={"q": "%"}, headers=h)
    assert (await resp.json())["total"] == 0  # a wildcard is searched for literally
    resp = await client.get("/api/v1/cases", params={"office": "qiaotou"}, headers=h)
    assert (await resp.json())["total"] == 5
    resp = await client.get("/api/v1/cases", params={"assignee": str(mediator.id)}, headers=h)
    assert (await resp.json())["total"] == 3
    resp = await client.get("/api/v1/cases", params={"stage": "filed"}, headers=h)
    assert (await resp.json())["total"] == 0
    resp = await client.get("/api/v1/cases", params={"per_page": "101"}, headers=h)
    assert resp.status == 422
    resp = await client.get("/api/v1/cases", params={"stage": "nonsense"}, headers=h)
    assert resp.status == 422

    # A number is found, also by a number the case carried before: the case is mediated
    # before litigation (the year's first 民诉前调 number), then filed (the first 民初).
    for stage in ("pre_litigation_mediation", "filed"):
        resp = await client.post(
            f"/api/v1/cases/{ids[4]}/transitions", json={"to": stage}, headers=h
        )
        assert resp.status == 200, await resp.text()
    assert (await resp.json())["number"].endswith("晋0303民初1号")
    for q in ("民初1号", "民诉前调1号"):
        resp = await client.get("/api/v1/cases", params={"q": q}, headers=h)
        assert [c["id"] for c in (await resp.json())["items"]] == [ids[4]], q


async def test_overdue_and_due_soon(client) -> None:
    # The court's clock stands on Wednesday 18 November 2026; each case enters fast-track on
    # the day given, and its deadline is five working days on (written out by hand).
    _stand_clock(client, date(2026, 11, 18))
    admin, h = await _auth(client, "admin1", "admin")
    _staff, hs = await _auth(client, "staff1", "office_staff", "qiaotou")
    ft = Stage.FAST_TRACK
    late = await new_case(client, admin, stage=ft, on=date(2026, 11, 10))
    late_q = await new_case(client, admin, office="qiaotou", stage=ft, on=date(2026, 11, 6))
    due_today = await new_case(client, admin, stage=ft, on=date(2026, 11, 11))
    due_next = await new_case(client, admin, stage=ft, on=date(2026, 11, 12))
    later = await new_case(client, admin, stage=ft, on=date(2026, 11, 13))  # neither list
    # Decided already: a past deadline no longer counts.
    decided = await new_case(client, admin, stage=Stage.ADJUDICATED, on=date(2026, 11, 2))
    deadlines = {
        late: date(2026, 11, 17),
        late_q: date(2026, 11, 13),
        due_today: date(2026, 11, 18),
        due_next: date(2026, 11, 19),
        later: date(2026, 11, 20),
        decided: date(2026, 11, 9),
    }
    for cid, deadline in deadlines.items():
        assert (await load(client, cid)).fast_track_deadline == deadline, cid

    resp = await client.get("/api/v1/cases/overdue", headers=h)
    assert [c["id"] for c in await resp.json()] == [late_q, late]
    assert all(c["overdue"] for c in await resp.json())
    resp = await client.get("/api/v1/cases/due-soon", headers=h)
    assert [c["id"] for c in await resp.json()] == [due_today, due_next]
    resp = await client.get("/api/v1/cases", params={"overdue": "true"}, headers=h)
    assert {c["id"] for c in (await resp.json())["items"]} == {late, late_q}
    # Office staff see only their own office's overdue case.
    resp = await client.get("/api/v1/cases/overdue", headers=hs)
    assert [c["id"] for c in await resp.json()] == [late_q]
    resp = await client.get("/api/v1/cases/due-soon", headers=hs)
    assert await resp.json() == []


async def test_docket_entry_count_matches_moves(client) -> None:
    admin, h = await _auth(client, "admin1", "admin")
    cid = await new_case(client, admin)
    path = ["filed", "pretrial_mediation", "mediated", "closed"]
    for stage in path:
        resp = await client.post(f"/api/v1/cases/{cid}/transitions", json={"to": stage}, headers=h)
        assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body["outcome"] == "mediated_pretrial" and body["resolved_at"] is not None
    assert body["allowed_moves"] == []
    async with session(client) as db:
        n = await db.scalar(
            select(func.count()).where(DocketEntry.case_id == cid, DocketEntry.kind == "transition")
        )
    assert n == len(path)
