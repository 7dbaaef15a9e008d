"""Online reception (网上接待): the public form and API, tracking, rate limits, bad input.

Everything runs through the real app on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from server.docket.intake import TRACKING_ALPHABET, parse_yuan
from server.models.accounts import RateEvent
from server.models.docket import Case, Consent
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import csrf, login, make_user, post_form

GOOD_FORM = {
    "applicant_name": "王小明",
    "applicant_phone": "13800001234",
    "applicant_id_number": "11010519491231002X",
    "applicant_address": "平潭街1号",
    "respondent_name": "李四",
    "respondent_phone": "13900005678",
    "respondent_id_number": "",
    "respondent_address": "桥头路8号",
    "cause": "民间借贷纠纷",
    "facts": "2025年借款两万元，到期未还。",
    "claim_yuan": "20,000.50",
    "consent_to_mediate": "yes",
    "office": "qiaotou",
}

GOOD_JSON = {
    "applicant": {"name": "赵六", "phone": "13700001111", "address": "赛鱼街2号"},
    "respondent": {"name": "钱七"},
    "cause": "相邻关系纠纷",
    "facts": "邻居漏水。",
    "claim_yuan": "1234.56",
    "consent_to_mediate": False,
    "office": "saiyu",
}

_CODE = re.compile(r"/intake/done/([A-Z2-9]{8})$")


async def _cases(client) -> list[Case]:
    async with client.app[SESSIONMAKER]() as db:
        return list(await db.scalars(select(Case).order_by(Case.id)))


async def _submit_form(client, form=None, **kw):
    await client.get("/intake")
    return await post_form(client, "/intake", form or GOOD_FORM, allow_redirects=False, **kw)


def test_parse_yuan_is_exact():
    assert parse_yuan("1,234.56") == 123456
    assert parse_yuan("¥800") == 80000
    assert parse_yuan("0.1") == 10
    assert parse_yuan("19.99") == 1999  # a float would give 1998.9999...
    assert parse_yuan("") == 0
    assert parse_yuan("12元") == 1200
    for bad in ("1.234", "-5", "abc", "1e3", "1..2", "NaN"):
        try:
            parse_yuan(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


async def test_form_submission_lands_as_intake_case_and_can_be_tracked(client):
    resp = await _submit_form(client)
    assert resp.status == 303, await resp.text()
    match = _CODE.search(resp.headers["Location"])
    assert match, resp.headers["Location"]
    code = match.group(1)
    assert not set(code) & set("01OI") and set(code) <= set(TRACKING_ALPHABET)

    done = await client.get(resp.headers["Location"])
    assert done.status == 200
    assert f"{code[:4]}-{code[4:]}" in await done.text()

    (case,) = await _cases(client)
    assert case.stage == "intake" and case.source == "online"
    assert case.tracking_code == code
    assert case.claim_fen == 2_000_050
    assert case.office.code == "qiaotou"
    assert {p.side: p.name for p in case.parties} == {"applicant": "王小明", "respondent": "李四"}
    async with client.app[SESSIONMAKER]() as db:
        consents = list(await db.scalars(select(Consent).where(Consent.case_id == case.id)))
    applicant = next(p for p in case.parties if p.side == "applicant")
    assert [(c.party_id, c.consents) for c in consents] == [(applicant.id, True)]

    # The tracking page: the stage in plain Chinese, no party details at all.
    track = await client.get(f"/intake/track?code={code[:4].lower()}-{code[4:].lower()}")
    assert track.status == 200
    page = await track.text()
    assert "登记" in page and "民间借贷纠纷" in page
    for secret in (
        "王小明",
        "李四",
        "13800001234",
        "13900005678",
        "11010519491231002X",
        "桥头路8号",
    ):
        assert secret not in page


async def test_intake_case_visible_to_court_and_chosen_office_only(client):
    resp = await _submit_form(client)
    assert resp.status == 303
    (case,) = await _cases(client)
    await make_user(client, "clerk", "clerk")
    await make_user(client, "qt_staff", "office_staff", office="qiaotou")
    await make_user(client, "ps_staff", "office_staff", office="pingtan")
    for username, expected in (("clerk", 200), ("qt_staff", 200), ("ps_staff", 404)):
        client.session.cookie_jar.clear()
        await login(client, username)
        page = await client.get(f"/cases/{case.id}")
        assert page.status == expected, username
        listing = await (await client.get("/cases")).text()
        assert (f'/cases/{case.id}"' in listing) == (expected == 200), username


async def test_api_submit_and_status(client):
    resp = await client.post("/api/v1/intake", json=GOOD_JSON)
    assert resp.status == 201, await resp.text()
    receipt = await resp.json()
    code = receipt["tracking_code"]
    assert receipt["stage"] == "intake" and receipt["office"] == "saiyu"

    status = await client.get(f"/api/v1/intake/{code}")
    assert status.status == 200
    body = await status.json()
    assert body["stage"] == "intake" and body["stage_label"] == "登记"
    assert "赵六" not in str(body) and "13700001111" not in str(body)
    en = await (await client.get(f"/api/v1/intake/{code}?lang=en")).json()
    assert en["stage_label"] == "Intake"

    (case,) = await _cases(client)
    assert case.claim_fen == 123456 and case.source == "online"

    missing = await client.get("/api/v1/intake/ZZZZZZZZ")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "tracking_code_not_found"


async def test_api_submit_refuses_a_form_post(client):
    # Without JSON the endpoint is closed to a cross-site form (it is CSRF-exempt for JSON).
    resp = await client.post("/api/v1/intake", data={"cause": "x"})
    assert resp.status == 415
    assert await _cases(client) == []


async def test_rate_limit_per_address(client):
    client.app[SETTINGS].intake_rate_per_hour = 2
    for _ in range(2):
        assert (await _submit_form(client)).status == 303
    refused = await _submit_form(client)
    assert refused.status == 429
    page = await refused.text()
    assert "一小时后再试" in page and 'value="王小明"' in page
    api = await client.post("/api/v1/intake", json=GOOD_JSON)
    assert api.status == 429
    assert (await api.json())["error"]["code"] == "rate_limited"
    assert len(await _cases(client)) == 2

    # Office staff submitting for residents are logged in and not limited.
    await make_user(client, "qt_staff", "office_staff", office="qiaotou")
    await login(client, "qt_staff")
    resp = await _submit_form(client)
    assert resp.status == 303
    cases = await _cases(client)
    assert len(cases) == 3 and cases[-1].source == "office"


async def test_a_burst_cannot_slip_past_the_limit(client):
    client.app[SETTINGS].intake_rate_per_hour = 3
    await client.get("/intake")
    token = csrf(client)
    responses = await asyncio.gather(
        *(
            client.post("/intake", data={**GOOD_FORM, "csrf_token": token}, allow_redirects=False)
            for _ in range(8)
        )
    )
    assert sorted(r.status for r in responses) == [303] * 3 + [429] * 5
    assert len(await _cases(client)) == 3


async def test_failed_lookups_are_limited(client):
    client.app[SETTINGS].intake_rate_per_hour = 1  # 5 misses an hour
    for _ in range(5):
        assert (await client.get("/intake/track?code=ZZZZ-ZZZZ")).status == 404
    refused = await client.get("/intake/track?code=ZZZZ-ZZZZ")
    assert refused.status == 429 and "查询失败次数过多" in await refused.text()
    async with client.app[SESSIONMAKER]() as db:
        assert await db.scalar(select(func.count()).select_from(RateEvent)) == 5


async def test_bad_input_is_refused_with_a_message_and_nothing_written(client):
    cases = [
        ({"applicant_name": ""}, "申请人姓名"),
        ({"applicant_phone": ""}, "申请人的电话"),
        ({"claim_yuan": "12.345"}, "最多两位小数"),
        ({"claim_yuan": "-5"}, "金额不能为负数"),
        ({"claim_yuan": "abc"}, "请用数字填写金额"),
        ({"office": "nowhere"}, "不是可选的街道办事处"),
        ({"office": "center"}, "不是可选的街道办事处"),
        ({"consent_to_mediate": ""}, "是否同意调解"),
        ({"applicant_id_number": "110105194912310021"}, "身份证号码"),
        ({"facts": ""}, "事实经过"),
    ]
    for change, message in cases:
        resp = await _submit_form(client, {**GOOD_FORM, **change})
        assert resp.status == 422, (change, resp.status)
        page = await resp.text()
        assert message in page, (change, page[page.find("form-errors") :][:400])
        # The form comes back filled in.
        assert 'value="13900005678"' in page
    assert await _cases(client) == []
    async with client.app[SESSIONMAKER]() as db:
        assert await db.scalar(select(func.count()).select_from(RateEvent)) == 0


async def test_api_bad_input(client):
    for body in (
        {**GOOD_JSON, "office": "nowhere"},
        {**GOOD_JSON, "claim_yuan": "1.001"},
        {**GOOD_JSON, "extra": 1},
        {k: v for k, v in GOOD_JSON.items() if k != "respondent"},
    ):
        resp = await client.post("/api/v1/intake", json=body)
        assert resp.status == 422, body
        assert (await resp.json())["error"]["code"] == "invalid"
    assert await _cases(client) == []


async def test_intake_form_needs_csrf(client):
    await client.get("/intake")
    resp = await client.post("/intake", data=GOOD_FORM)
    assert resp.status == 403
    resp = await client.post("/intake", data={**GOOD_FORM, "csrf_token": csrf(client) + "x"})
    assert resp.status == 403
    assert await _cases(client) == []
