"""The duty desk (issue 17 part 1): the roster, a street office's call ringing the people on
duty one after another and then the whole center, the first to answer getting it, the call
becoming an intake case (or joining one), missed calls and call-back requests, and the
desk socket telling each page what rings. Real app, real databases, real WebSockets."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.desk import calls
from server.desk.roster import half_of
from server.models.desk import CallStatus, DeskCall
from server.models.docket import Case, Consent, DocketEntry
from server.models.sessions import MediationSession
from server.settings import Settings
from tests.helpers import api_token, login, make_user, unit
from tests.test_invites import make_case

WORKDAY = date(2026, 12, 2)  # a Wednesday: the roster is kept for working days only
APPLICANT = {"name": "王五", "phone": "13800000000"}
# The resident's dispute as the office types it during a call.
INTAKE = {
    "applicant": APPLICANT, "respondent": {"name": "赵六"}, "cause": "相邻关系纠纷",
    "facts": "漏水", "claim_yuan": "1,200", "consent_to_mediate": True,
}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"today": WORKDAY})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _desk(client):
    people = {
        "clk": await make_user(client, "clk", "clerk"),
        "med1": await make_user(client, "med1", "mediator", display_name="调解员甲"),
        "med2": await make_user(client, "med2", "mediator", display_name="调解员乙"),
        "jdg": await make_user(client, "jdg", "judge"),
        "term": await make_user(client, "term", "office_staff", office="shaping"),
        "term2": await make_user(client, "term2", "office_staff", office="caiwa"),
    }
    tokens = {name: bearer(await api_token(client, name)) for name in people}
    async with unit(client.app) as ctx:
        day, half = half_of(ctx)
    resp = await client.put(
        f"/api/v1/desk/roster/{day}/{half}",
        json={"user_ids": [people["med1"].id, people["med2"].id]},
        headers=tokens["clk"],
    )
    assert resp.status == 200, await resp.text()
    return people, tokens


async def _backdate(client, call_id: int, seconds: float) -> None:
    async with unit(client.app) as ctx:
        call = await ctx.db.get(DeskCall, call_id)
        call.called_at -= timedelta(seconds=seconds)


async def test_roster_is_kept_by_clerks_on_working_days(client) -> None:
    people, tokens = await _desk(client)
    resp = await client.get("/api/v1/desk/roster?days=1", headers=tokens["term"])
    halves = await resp.json()
    on = [h for h in halves if h["people"]]
    assert [p["name"] for p in on[0]["people"]] == ["调解员甲", "调解员乙"]
    ids = {"json": {"user_ids": [people["med1"].id]}}
    # A mediator does not set the roster; a Saturday takes none; only judges and mediators.
    assert (
        await client.put("/api/v1/desk/roster/2026-12-02/am", headers=tokens["med1"], **ids)
    ).status == 403
    saturday = await client.put("/api/v1/desk/roster/2026-12-05/am", headers=tokens["clk"], **ids)
    assert saturday.status == 422 and (await saturday.json())["error"]["code"] == "not_a_workday"
    clerk = {"user_ids": [people["clk"].id]}
    bad = await client.put("/api/v1/desk/roster/2026-12-02/am", headers=tokens["clk"], json=clerk)
    assert bad.status == 422 and (await bad.json())["error"]["code"] == "bad_duty_person"
    twice = {"user_ids": [people["med1"].id, people["med1"].id]}
    assert (
        await client.put("/api/v1/desk/roster/2026-12-02/am", headers=tokens["clk"], json=twice)
    ).status == 422


def test_the_ring_passes_down_the_roster_then_to_everyone() -> None:
    from datetime import UTC, datetime

    start = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    call = DeskCall(called_at=start, roster="7,9")
    period = timedelta(seconds=30)
    at = lambda s: start + timedelta(seconds=s)  # noqa: E731
    assert calls.ringing_whom(call, at(0), period) == [7]
    assert calls.ringing_whom(call, at(29.9), period) == [7]
    assert calls.ringing_whom(call, at(30), period) == [7, 9]
    assert calls.ringing_whom(call, at(60), period) is None  # the whole center
    assert calls.gives_up_at(call, period) == at(90)
    nobody = DeskCall(called_at=start, roster="")
    assert calls.ringing_whom(nobody, at(0), period) is None
    assert calls.gives_up_at(nobody, period) == at(30)


async def test_a_call_is_answered_once_and_becomes_an_intake_case(client) -> None:
    people, tokens = await _desk(client)
    first = await client.post("/api/v1/desk/calls", headers=tokens["term"])
    assert first.status == 201
    call = await first.json()
    assert call["status"] == "ringing" and call["queue_position"] == 1
    again = await client.post("/api/v1/desk/calls", headers=tokens["term"])
    assert (await again.json())["id"] == call["id"]  # one call per office at a time
    other = await (await client.post("/api/v1/desk/calls", headers=tokens["term2"])).json()
    assert other["queue_position"] == 2
    # Only the center's judges and mediators answer; the first wins, the next is told 409.
    assert (
        await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["clk"])
    ).status == 403
    won = await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med2"])
    assert won.status == 200, await won.text()
    answered = await won.json()
    lost = await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med1"])
    assert lost.status == 409 and (await lost.json())["error"]["code"] == "call_taken"
    assert answered["status"] == "answered" and answered["answered_by"] == "调解员乙"
    async with unit(client.app) as ctx:
        session = await ctx.db.get(MediationSession, answered["session_id"])
        case = await ctx.db.get(Case, answered["case_id"])
        assert session.host_id == people["med2"].id and session.case_id == case.id
        assert case.stage == "intake" and case.mediator_id == people["med2"].id
        assert case.office.code == "shaping" and case.tracking_code
    # The office types the resident's dispute during the call, with their consent.
    assert (
        await client.post(
            f"/api/v1/desk/calls/{call['id']}/case", headers=tokens["term2"], json=INTAKE
        )
    ).status == 404
    done = await client.post(
        f"/api/v1/desk/calls/{call['id']}/case", headers=tokens["term"], json=INTAKE
    )
    assert done.status == 200, await done.text()
    assert (await done.json())["outcome"] == "case"
    again = await client.post(
        f"/api/v1/desk/calls/{call['id']}/case", headers=tokens["med2"], json=INTAKE
    )
    assert again.status == 409
    async with unit(client.app) as ctx:
        case = await ctx.db.get(Case, answered["case_id"])
        await ctx.db.refresh(case)
        assert case.cause == "相邻关系纠纷" and case.claim_fen == 120000
        assert [p.name for p in case.parties] == ["王五", "赵六"]
        consent = await ctx.db.scalar(select(Consent).where(Consent.case_id == case.id))
        assert consent.consents is True and consent.party_id == case.parties[0].id
    # The session ending ends the call; the outcome stays.
    assert (
        await client.post(f"/api/v1/sessions/{answered['session_id']}/end", headers=tokens["med2"])
    ).status == 200
    async with unit(client.app) as ctx:
        await calls.sweep(ctx)
    ended = await (
        await client.get(f"/api/v1/desk/calls/{call['id']}", headers=tokens["term"])
    ).json()
    assert ended["status"] == "ended" and ended["outcome"] == "case"


async def test_a_call_joins_a_case_on_the_docket(client) -> None:
    _people, tokens = await _desk(client)
    existing = await make_case(client, office="shaping")
    call = await (await client.post("/api/v1/desk/calls", headers=tokens["term"])).json()
    answered = await (
        await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med1"])
    ).json()
    reception = answered["case_id"]
    # Only the one who answered attaches it (office staff cannot tell which case it is).
    body = {"case_id": existing}
    assert (
        await client.post(
            f"/api/v1/desk/calls/{call['id']}/attach", headers=tokens["term"], json=body
        )
    ).status == 403
    resp = await client.post(
        f"/api/v1/desk/calls/{call['id']}/attach", headers=tokens["med1"], json=body
    )
    assert resp.status == 200, await resp.text()
    out = await resp.json()
    assert out["outcome"] == "attached" and out["case_id"] == existing
    async with unit(client.app) as ctx:
        session = await ctx.db.get(MediationSession, answered["session_id"])
        assert session.case_id == existing
        assert await ctx.db.get(Case, reception) is None


async def _answered(client, tokens):  # type: ignore[no-untyped-def]
    """An office's call, answered by med1: the call and the answer as the API gave them."""
    call = await (await client.post("/api/v1/desk/calls", headers=tokens["term"])).json()
    answered = await (
        await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med1"])
    ).json()
    return call, answered


async def _end(client, tokens, answered) -> None:  # type: ignore[no-untyped-def]
    """The host ends the call's session, nothing registered."""
    end = f"/api/v1/sessions/{answered['session_id']}/end"
    assert (await client.post(end, headers=tokens["med1"])).status == 200


async def test_an_advice_call_registers_no_case(client) -> None:
    """A call answered, talked through and ended with nothing registered (咨询): the call
    is kept as advice and its session stays on its reception case, but that case is not a
    dispute: it leaves the intake queue as withdrawn, and the court's figures do not count it
    as a registered case, during the call or after."""
    people, tokens = await _desk(client)
    year = f"/api/v1/reports?year={WORKDAY.year}"
    before = await (await client.get(year, headers=tokens["clk"])).json()
    call, answered = await _answered(client, tokens)
    during = await (await client.get(year, headers=tokens["clk"])).json()
    assert during["cases"] == before["cases"] and during["by_stage"] == before["by_stage"]
    await _end(client, tokens, answered)
    async with unit(client.app) as ctx:
        assert await calls.sweep(ctx)
        assert not await calls.sweep(ctx)  # once
    ended = await (
        await client.get(f"/api/v1/desk/calls/{call['id']}", headers=tokens["term"])
    ).json()
    assert ended["status"] == "ended" and ended["outcome"] == "advice"
    async with unit(client.app) as ctx:
        case = await ctx.db.get(Case, answered["case_id"])
        session = await ctx.db.get(MediationSession, answered["session_id"])
        assert case.stage == "withdrawn" and not case.parties
        assert session.case_id == case.id  # what it recorded stays with the call's case
        entry = await ctx.db.scalar(
            select(DocketEntry).where(
                DocketEntry.case_id == case.id, DocketEntry.to_stage == "withdrawn"
            )
        )
        assert entry.actor_id == people["term"].id and "咨询" in entry.text
    after = await (await client.get(year, headers=tokens["clk"])).json()
    for key in ("cases", "by_stage", "by_outcome", "registered_by_month", "civil_cases"):
        assert after[key] == before[key], key
    assert after["reception"]["answered"] == before["reception"]["answered"] + 1
    assert after["reception"]["became_cases"] == before["reception"]["became_cases"]


async def test_the_docket_list_marks_a_call_not_yet_registered(client) -> None:
    """While a call is on, its reception case sits at intake with no parties: the clerks'
    docket list says it is a desk call not yet registered, so nobody takes it for a filing,
    until the office registers the resident's dispute in it."""
    _people, tokens = await _desk(client)
    call, answered = await _answered(client, tokens)
    await login(client, "clk")
    mark = "视频接访中，尚未登记"
    row = f'href="/cases/{answered["case_id"]}"'

    def marked(page: str) -> bool:
        return any(row in tr and mark in tr for tr in page.split("<tr"))

    assert marked(await (await client.get("/cases")).text())
    assert marked(await (await client.get("/cases?stage=intake")).text())
    done = await client.post(
        f"/api/v1/desk/calls/{call['id']}/case", headers=tokens["term"], json=INTAKE
    )
    assert done.status == 200, await done.text()
    page = await (await client.get("/cases")).text()
    assert row in page and not marked(page) and mark not in page


async def test_an_advice_call_whose_case_was_moved_meanwhile_is_left_as_it_is(client) -> None:
    """The office withdrew the reception case itself before the sweep came (or another
    node's sweep did): the sweep notes the advice and moves nothing twice."""
    _people, tokens = await _desk(client)
    call, answered = await _answered(client, tokens)
    await _end(client, tokens, answered)
    moved = await client.post(
        f"/api/v1/cases/{answered['case_id']}/transitions",
        headers=tokens["term"],
        json={"to": "withdrawn", "note": "居民只是咨询"},
    )
    assert moved.status == 200, await moved.text()
    async with unit(client.app) as ctx:
        assert await calls.sweep(ctx)
    async with unit(client.app) as ctx:
        call_row = await ctx.db.get(DeskCall, call["id"])
        assert call_row.status == "ended" and call_row.outcome == "advice"
        moves = (
            await ctx.db.scalars(
                select(DocketEntry.text).where(
                    DocketEntry.case_id == answered["case_id"], DocketEntry.to_stage == "withdrawn"
                )
            )
        ).all()
        assert moves == ["居民只是咨询"]


async def test_missed_calls_are_kept_and_called_back(client) -> None:
    _people, tokens = await _desk(client)
    call = await (await client.post("/api/v1/desk/calls", headers=tokens["term"])).json()
    await _backdate(
        client, call["id"], 91
    )  # the roster (2 × 30 s) and the whole center had their turn
    async with unit(client.app) as ctx:
        assert await calls.sweep(ctx)
    missed = await (
        await client.get(f"/api/v1/desk/calls/{call['id']}", headers=tokens["term"])
    ).json()
    assert missed["status"] == "missed" and missed["answered_at"] is None
    assert (
        await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med1"])
    ).status == 409
    bad = await client.post(
        f"/api/v1/desk/calls/{call['id']}/callback",
        headers=tokens["term"],
        json={"phone": "call me"},
    )
    assert bad.status == 422
    ask = {"phone": "0353-1234567", "note": "王五 相邻纠纷"}
    asked = await client.post(
        f"/api/v1/desk/calls/{call['id']}/callback", headers=tokens["term"], json=ask
    )
    assert asked.status == 200 and (await asked.json())["callback_phone"] == "0353-1234567"
    assert (
        await client.post(f"/api/v1/desk/calls/{call['id']}/called-back", headers=tokens["term"])
    ).status == 403
    assert (
        await client.post(f"/api/v1/desk/calls/{call['id']}/called-back", headers=tokens["clk"])
    ).status == 200
    assert (
        await client.post(f"/api/v1/desk/calls/{call['id']}/called-back", headers=tokens["clk"])
    ).status == 409
    # A new call from the office rings again; the day's list keeps both.
    await client.post("/api/v1/desk/calls", headers=tokens["term"])
    day = await (
        await client.get(f"/api/v1/desk/calls?day={WORKDAY}", headers=tokens["clk"])
    ).json()
    assert [c["status"] for c in day] == ["ringing", "missed"]
    mine = await (
        await client.get(f"/api/v1/desk/calls?day={WORKDAY}", headers=tokens["term2"])
    ).json()
    assert mine == []


async def test_the_desk_socket_rings_down_the_roster(client) -> None:
    _people, tokens = await _desk(client)
    sockets = {}
    for name in ("med1", "med2", "term", "clk"):
        sockets[name] = await client.ws_connect("/ws/desk", headers=tokens[name])

    async def state(name: str, want) -> dict:
        while True:
            msg = await sockets[name].receive_json(timeout=10)
            if msg["type"] == "desk.state" and want(msg):
                return msg

    await state("term", lambda m: m["call"] is None)
    call = await (await client.post("/api/v1/desk/calls", headers=tokens["term"])).json()
    await state(
        "term",
        lambda m: m["call"] and m["call"]["status"] == "ringing" and m["call"]["position"] == 1,
    )
    rung = await state("med1", lambda m: m["ringing"])
    assert rung["ringing"][0]["for_me"] and rung["ringing"][0]["id"] == call["id"]
    assert rung["answer"] is True
    early = await state("med2", lambda m: m["ringing"])  # listed, not yet rung for them
    assert not early["ringing"][0]["for_me"]
    # The second on the roster is rung when the first has had a period alone.
    await _backdate(client, call["id"], 31)
    second = await state("med2", lambda m: m["ringing"] and m["ringing"][0]["for_me"])
    assert not second["ringing"][0]["everyone"]
    seen = await state("clk", lambda m: m["ringing"])  # a clerk sees it, does not answer it
    assert seen["answer"] is False and not seen["ringing"][0]["for_me"]
    await client.post(f"/api/v1/desk/calls/{call['id']}/accept", headers=tokens["med2"])
    live = await state("term", lambda m: m["call"]["status"] == "answered")
    assert live["call"]["session_id"]
    await state("med1", lambda m: m["ringing"] == [])
    for ws in sockets.values():
        await ws.close()


async def test_the_desk_socket_is_the_court_and_the_offices(client) -> None:
    await _desk(client)
    resp = await client.get("/ws/desk")
    assert resp.status == 401
    bad = await client.get("/ws/desk", headers={"Origin": "https://evil.example"})
    assert bad.status in (401, 403)


async def test_reception_figures_in_the_reports(client) -> None:
    people, tokens = await _desk(client)
    stf = people["term"]
    async with unit(client.app) as ctx:
        now = ctx.now()

        def call(wait: float | None, status: str, **extra) -> DeskCall:  # type: ignore[no-untyped-def]
            at = now - timedelta(minutes=10)
            answered = None if wait is None else at + timedelta(seconds=wait)
            return DeskCall(
                office_id=stf.office_id, caller_id=stf.id, status=status, called_at=at,
                answered_at=answered, roster="", callback_note="", **extra,
            )  # fmt: skip

        ctx.db.add_all([
            call(10, CallStatus.ENDED, outcome="case"),
            call(45, CallStatus.ENDED, outcome="advice"),
            call(None, CallStatus.MISSED, called_back_at=now),
            call(None, CallStatus.CANCELLED),
        ])  # fmt: skip
    report = await (
        await client.get(f"/api/v1/reports?year={WORKDAY.year}", headers=tokens["clk"])
    ).json()
    desk = report["reception"]
    assert desk == {
        "office": None, "calls": 4, "answered": 2, "answered_within_30s": 1,
        "answered_within_30s_share": 25.0, "median_answer_seconds": 27.5, "became_cases": 1,
        "missed": 2, "missed_called_back": 1,
    }  # fmt: skip
    shaping = next(r for r in report["reception_by_office"] if r["office"] == "shaping")
    assert shaping["calls"] == 4
    # Another office's staff see their own office's figures only: none of these calls.
    own = await (
        await client.get(f"/api/v1/reports?year={WORKDAY.year}", headers=tokens["term2"])
    ).json()
    assert own["reception"]["calls"] == 0 and [r["office"] for r in own["reception_by_office"]] == [
        "caiwa"
    ]
    page = await client.get(f"/reports?year={WORKDAY.year}", headers=tokens["clk"])
    html = await page.text()
    assert "视频接访（值班台）" in html and "值班台的情况。30秒内接听" in html


async def test_the_ring_and_the_terminal_join_their_words_as_the_language_does(client) -> None:
    """The scripts join a word to a value: the ring read "来电 沙坪街道 (ringing the whole
    center)" and the terminal "排队位置: 1" on Chinese pages. The pages hand them the
    language's own joins: no space in Chinese, its colon and its brackets."""
    _people, tokens = await _desk(client)
    zh = await (await client.get("/desk", headers=tokens["clk"])).text()
    assert 'data-gap=""' in zh and 'data-t-everyone="（正在响遍全中心）"' in zh
    terminal = await (await client.get("/desk/terminal", headers=tokens["term"])).text()
    assert 'data-t-position="排队位置"' in terminal and 'data-colon="："' in terminal
    en = await (await client.get("/desk?lang=en", headers=tokens["clk"])).text()
    assert 'data-gap=" "' in en and 'data-t-everyone=" (ringing the whole center)"' in en
