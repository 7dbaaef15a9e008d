"""The docket pages through the real app on SQLite and PostgreSQL: registering a case, the
docket list (search, filters, pages, overdue and due-soon), and the case page (allowed moves
only, masked ID numbers, consents, assignment, office isolation, the 409 message)."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from server.docket.stages import STAGE_LABELS
from server.i18n import TRANSLATIONS_DIR, load_messages
from server.models.docket import Case, Consent, Party
from server.pages import case_pages, docket_pages, intake_pages
from server.web.keys import CALENDAR
from tests.docket_helpers import (
    OTHER_ID,
    PERSON_ID,
    count,
    court_today,
    load,
    new_case,
    session,
)
from tests.helpers import login, make_user, post_form

NEW_CASE = {
    "party_count": "2",
    "party-0-side": "applicant",
    "party-0-kind": "person",
    "party-0-name": "张三",
    "party-0-id_number": PERSON_ID,
    "party-0-phone": "13800000001",
    "party-0-address": "平潭街1号",
    "party-0-representative": "",
    "party-0-consent": "",
    "party-1-side": "respondent",
    "party-1-kind": "person",
    "party-1-name": "李四",
    "party-1-id_number": OTHER_ID,
    "party-1-phone": "",
    "party-1-address": "",
    "party-1-representative": "",
    "party-1-consent": "",
    "cause": "民间借贷纠纷",
    "claim_yuan": "1,234.56",
    "facts": "借款未还。",
    "office": "center",
}


def _buttons(page: str) -> set[str]:
    return set(re.findall(r'name="to" value="(\w+)"', page))


async def _clerk(client, name="clerk1"):
    user = await make_user(client, name, "clerk", display_name="书记员甲")
    await login(client, name)
    return user


async def test_every_page_label_is_translated():
    zh = load_messages(TRANSLATIONS_DIR, "zh_CN")
    msgids = {
        *STAGE_LABELS.values(),
        *intake_pages.LABELS.values(),
        *intake_pages.STAGE_EXPLAINED.values(),
        *intake_pages.COMMON_CAUSES,
        *docket_pages.LABELS.values(),
        *case_pages.SIDES.values(),
        *case_pages.KINDS.values(),
        *case_pages.SOURCES.values(),
        *case_pages.ENTRY_KINDS.values(),
        *case_pages.FIELD_NAMES.values(),
    }
    assert sorted(m for m in msgids if not zh.get(m)) == []


async def test_clerk_registers_a_case(client):
    await _clerk(client)
    form = await client.get("/cases/new")
    assert form.status == 200 and "登记案件" in await form.text()
    resp = await post_form(client, "/cases/new", NEW_CASE, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    case_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    case = await load(client, case_id)
    assert case.claim_fen == 123456 and case.stage == "intake" and case.source == "court"
    assert [(p.side, p.name) for p in case.parties] == [
        ("applicant", "张三"),
        ("respondent", "李四"),
    ]
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "张三" in page and "¥1,234.56" in page and "登记" in page


async def test_new_case_bad_input_keeps_the_form(client):
    await _clerk(client)
    await client.get("/cases/new")
    bad = [
        ({"claim_yuan": "12.345"}, "金额最多两位小数"),
        ({"claim_yuan": "-1"}, "金额不能为负数"),
        ({"claim_yuan": "十元"}, "请用数字填写金额"),
        ({"party-1-side": "applicant"}, "至少需要一名申请人和一名被申请人"),
        ({"office": "nowhere"}, "未知单位 &#39;nowhere&#39;"),  # the reader's language
        ({"cause": ""}, "案由"),
        ({"party-0-id_number": "123"}, "居民身份证号码"),
        ({"party-1-name": ""}, "当事人 2"),
    ]
    for change, message in bad:
        resp = await post_form(client, "/cases/new", {**NEW_CASE, **change})
        assert resp.status == 422, (change, resp.status)
        page = await resp.text()
        assert message in page, (change, page[page.find("form-errors") :][:500])
        assert 'value="借款未还。"' in page or "借款未还。</textarea>" in page
    # Every problem at once: the claim's and the model's.
    resp = await post_form(
        client, "/cases/new", {**NEW_CASE, "claim_yuan": "-1", "party-0-id_number": "123"}
    )
    page = await resp.text()
    assert resp.status == 422 and "金额不能为负数" in page and "居民身份证号码" in page
    assert await count(client, Case) == 0 and await count(client, Party) == 0


async def test_add_party_row_and_three_parties(client):
    await _clerk(client)
    await client.get("/cases/new")
    resp = await post_form(client, "/cases/new", {**NEW_CASE, "add_party": "1"})
    assert resp.status == 200
    page = await resp.text()
    assert 'name="party-2-name"' in page and 'value="张三"' in page
    third = {
        "party_count": "3",
        "party-2-side": "respondent",
        "party-2-kind": "organisation",
        "party-2-name": "某物业公司",
        "party-2-consent": "yes",
    }
    resp = await post_form(client, "/cases/new", {**NEW_CASE, **third}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert await count(client, Party) == 3 and await count(client, Consent) == 1
    # The organisation and the stage's date are asides in the language's brackets.
    case_page = await (await client.get(resp.headers["Location"])).text()
    assert '<span class="muted">（法人或其他组织）</span>' in case_page
    assert '</strong><span class="muted">（自 ' in case_page
    case_page = await (await client.get(resp.headers["Location"] + "?lang=en")).text()
    assert '<span class="muted"> (Organisation)</span>' in case_page


async def test_judges_may_not_register(client):
    await make_user(client, "judge1", "judge")
    await login(client, "judge1")
    assert (await client.get("/cases/new")).status == 403


async def test_docket_search_filters_and_pages(client):
    clerk = await _clerk(client)
    for i in range(23):
        await new_case(client, clerk, cause=f"借款纠纷{i:02d}", office="center")
    await new_case(client, clerk, cause="物业服务合同纠纷", office="pingtan")
    filed = await new_case(client, clerk, cause="相邻关系纠纷", office="qiaotou", stage="filed")

    first = await (await client.get("/cases")).text()
    assert "25 件案件，第 1/2 页" in first and 'rel="next"' in first
    second = await (await client.get("/cases?page=2")).text()
    assert second.count('<tr>\n    <td><a href="/cases/') == 5
    found = await (await client.get("/cases?q=物业")).text()
    assert "物业服务合同纠纷" in found and "借款纠纷00" not in found
    by_party = await (await client.get("/cases?q=张三&per_page=100")).text()
    assert by_party.count('<td><a href="/cases/') == 25
    by_stage = await (await client.get("/cases?stage=filed")).text()
    assert f'href="/cases/{filed}"' in by_stage and "借款纠纷" not in by_stage
    assert '<span class="badge stage-filed">立案</span>' in by_stage
    by_office = await (await client.get("/cases?office=pingtan")).text()
    assert "物业服务合同纠纷" in by_office and "相邻关系纠纷" not in by_office
    mine = await (await client.get("/cases?assignee=me")).text()
    assert "没有符合条件的案件" in mine
    assert (await client.get("/cases?page=0")).status == 422
    en = await (await client.get("/cases?lang=en&stage=filed")).text()
    assert ">Filed</span>" in en and "Docket" in en

    # Office staff see only their own office's cases, whatever the filter says.
    client.session.cookie_jar.clear()
    await make_user(client, "pt", "office_staff", office="pingtan")
    await login(client, "pt")
    theirs = await (await client.get("/cases?office=qiaotou")).text()
    assert "相邻关系纠纷" not in theirs
    theirs = await (await client.get("/cases")).text()
    assert "物业服务合同纠纷" in theirs and "借款纠纷" not in theirs


async def test_case_page_shows_only_allowed_moves(client):
    clerk = await make_user(client, "clerk1", "clerk")
    case_id = await new_case(client, clerk, office="pingtan")
    expected = {
        "clerk1": {"pre_litigation_mediation", "filed", "withdrawn"},
        "med": {"pre_litigation_mediation"},
        "judge": set(),
        "pt": {"withdrawn"},
    }
    await make_user(client, "med", "mediator")
    await make_user(client, "judge", "judge")
    await make_user(client, "pt", "office_staff", office="pingtan")
    for username, moves in expected.items():
        client.session.cookie_jar.clear()
        await login(client, username)
        page = await client.get(f"/cases/{case_id}")
        assert page.status == 200
        text = await page.text()
        assert _buttons(text) == moves, username
        if "pre_litigation_mediation" in moves:  # Chinese sets no space inside the label
            assert ">转为诉前调解</button>" in text


async def test_id_numbers_masked_unless_assigned(client):
    clerk = await _clerk(client)
    case_id = await new_case(client, clerk, office="pingtan")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert PERSON_ID not in page and f"{PERSON_ID[:3]}***********{PERSON_ID[-4:]}" in page
    resp = await post_form(
        client, f"/cases/{case_id}/assign", {"clerk_id": str(clerk.id)}, allow_redirects=False
    )
    assert resp.status == 303
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert PERSON_ID in page and OTHER_ID in page
    # Office staff of the case's office see the case, but never the numbers.
    client.session.cookie_jar.clear()
    await make_user(client, "pt", "office_staff", office="pingtan")
    await login(client, "pt")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "张三" in page and PERSON_ID not in page and OTHER_ID not in page


async def test_other_office_gets_404(client):
    clerk = await make_user(client, "clerk1", "clerk")
    case_id = await new_case(client, clerk, office="pingtan")
    await make_user(client, "qt", "office_staff", office="qiaotou")
    await login(client, "qt")
    assert (await client.get(f"/cases/{case_id}")).status == 404
    resp = await post_form(client, f"/cases/{case_id}/move", {"to": "withdrawn"})
    assert resp.status == 404
    assert (await load(client, case_id)).stage == "intake"
    assert (await client.get("/cases/99999999999")).status == 404


async def test_illegal_move_and_missing_consent_show_409(client):
    clerk = await _clerk(client)
    case_id = await new_case(client, clerk, consent=None)
    resp = await post_form(client, f"/cases/{case_id}/move", {"to": "closed"})
    assert resp.status == 409
    page = await resp.text()
    assert "不能转为“结案归档”" in page and "诉前调解、立案、撤回" in page
    resp = await post_form(client, f"/cases/{case_id}/move", {"to": "pre_litigation_mediation"})
    assert resp.status == 409
    assert "每一方当事人" in await resp.text()
    assert (await load(client, case_id)).stage == "intake"


async def test_consent_then_mediation_then_filed_then_fast_track_overdue(client):
    clerk = await _clerk(client)
    case_id = await new_case(client, clerk, consent=None)
    case = await load(client, case_id)
    assert len(case.parties) == 2
    for party in case.parties:
        resp = await post_form(
            client,
            f"/cases/{case_id}/consent",
            {"party_id": str(party.id), "consents": "yes"},
            allow_redirects=False,
        )
        assert resp.status == 303
    for stage in ("pre_litigation_mediation", "filed", "fast_track"):
        resp = await post_form(
            client, f"/cases/{case_id}/move", {"to": stage, "note": "测试"}, allow_redirects=False
        )
        assert resp.status == 303, (stage, await resp.text())
    case = await load(client, case_id)
    assert case.stage == "fast_track" and "民初" in (case.number or "")
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert "诉前调解 → 立案" in page and "同意调解" in page and "测试" in page

    # Push the deadline into the past: the case is overdue on both lists.
    calendar = client.app[CALENDAR]
    today = court_today(client.app)
    async with session(client) as db:
        row = await db.get(Case, case_id)
        row.fast_track_entered_on = today - timedelta(days=14)
        row.fast_track_deadline = calendar.add_workdays(row.fast_track_entered_on, 5)
        await db.commit()
    overdue = await (await client.get("/cases?overdue=1")).text()
    assert f'href="/cases/{case_id}"' in overdue and 'class="badge overdue"' in overdue
    assert (await (await client.get(f"/cases/{case_id}")).text()).count("已超期") >= 1
    due = await (await client.get("/cases/due-soon")).text()
    assert f'href="/cases/{case_id}"' not in due

    async with session(client) as db:
        row = await db.get(Case, case_id)
        row.fast_track_deadline = today
        await db.commit()
    due = await (await client.get("/cases/due-soon")).text()
    assert f'href="/cases/{case_id}"' in due and "1个工作日内到期" in due
    assert f'href="/cases/{case_id}"' not in await (await client.get("/cases?overdue=1")).text()


async def test_party_edit_and_add_and_bad_assignment(client):
    clerk = await _clerk(client)
    case_id = await new_case(client, clerk)
    case = await load(client, case_id)
    first = case.parties[0]
    resp = await post_form(
        client,
        f"/cases/{case_id}/parties/{first.id}",
        {"side": "applicant", "kind": "person", "name": "张三丰", "id_number": "", "phone": "1"},
        allow_redirects=False,
    )
    assert resp.status == 303
    async with session(client) as db:
        party = await db.get(Party, first.id)
        # The masked number was left empty by someone who may not see it: it is kept.
        assert party.name == "张三丰" and party.id_number == PERSON_ID
    resp = await post_form(
        client,
        f"/cases/{case_id}/parties",
        {"side": "respondent", "kind": "person", "name": "王五", "consent": "no"},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert len((await load(client, case_id)).parties) == 3
    resp = await post_form(client, f"/cases/{case_id}/assign", {"judge_id": str(clerk.id)})
    assert resp.status == 422
    resp = await post_form(
        client, f"/cases/{case_id}/edit", {"cause": "改", "claim_yuan": "1.001", "version": "1"}
    )
    assert resp.status == 422 and "最多两位小数" in await resp.text()
    async with session(client) as db:
        assert (await db.get(Case, case_id)).cause == "民间借贷纠纷"
        assert (await db.scalar(select(Party.name).where(Party.id == first.id))) == "张三丰"


async def test_the_stylesheet_is_served(client):
    resp = await client.get("/static/app.css")
    assert resp.status == 200 and ".badge.overdue" in await resp.text()
