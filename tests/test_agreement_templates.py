"""Document templates: each built-in renders a Chinese document from the case; admins add
and edit templates (each edit a new version, the old kept); the template is chosen by case
type; a broken template is refused; non-admins may not edit."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

from sqlalchemy import select

from server.agreements import templates
from server.agreements.documents import RenderInput, RulingInfo, sample_context
from server.agreements.pdf import render_html
from server.agreements.terms import amount_in_words
from server.models.agreements import AgreementTemplate, AgreementTemplateVersion
from tests.agreement_helpers import bearer, build_world, terms_for
from tests.helpers import make_user, unit


def test_each_builtin_template_renders_chinese():
    ctx = sample_context()
    agreement = templates.compiled(templates.builtin_body("agreement")).render(ctx)
    expected = (
        "调解协议书", "申请人：张三", "被申请人：李四", "民间借贷纠纷",
        "二〇二六年十二月三十一日", "50,000.00", "伍万元整", "双方就本纠纷再无其他争议。",
    )  # fmt: skip
    for words in expected:
        assert words in agreement, words
    ruling = templates.compiled(templates.builtin_body("ruling")).render(ctx)
    for words in ("民事裁定书", "（2026）晋0303民特1号", "审判员　赵法官", "二〇二六年十二月一日",
                  "调解协议有效", "伍万元整"):  # fmt: skip
        assert words in ruling, words


def test_ruling_renders_from_a_snapshot():
    data = {**sample_context()}  # the same shape the sealing code passes
    raw = {
        "court": data["court"], "case": data["case"], "parties": data["parties"],
        "terms": {"obligations": [], "clauses": ["本协议一式三份。"]},
    }  # fmt: skip
    ruling = RulingInfo("（2026）晋0303民特9号", date(2026, 3, 1), "赵法官", "", "N", "C",
                        date(2026, 2, 28))  # fmt: skip
    html = render_html(
        templates.builtin_body("ruling"), RenderInput(raw, "0" * 64, 1, ruling=ruling)
    )
    assert "二〇二六年三月一日" in html and "本协议一式三份。" in html


def test_amount_in_words():
    assert amount_in_words(5_000_000) == "伍万元整"
    assert amount_in_words(1_000_100) == "壹万零壹元整"
    assert amount_in_words(123_456) == "壹仟贰佰叁拾肆元伍角陆分"
    assert amount_in_words(1) == "壹分"


async def test_admin_templates_versions_and_choice(client):
    w = await build_world(client)
    admin = {"Authorization": f"Bearer {await bearer(client, 'admin')}"}
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    rows = await (await client.get("/api/v1/agreement-templates", headers=med)).json()
    assert {r["kind"] for r in rows} == {"agreement", "ruling"}
    body = templates.builtin_body("agreement").replace("调解协议书</h1>", "借贷纠纷调解协议书</h1>")
    new = {"kind": "agreement", "name": "借贷专用", "case_type": "借贷", "body": body}
    assert (await client.post("/api/v1/agreement-templates", json=new, headers=med)).status == 403
    resp = await client.post("/api/v1/agreement-templates", json=new, headers=admin)
    assert resp.status == 201, await resp.text()
    tid = (await resp.json())["id"]
    # A template that does not render is refused and keeps no version.
    broken = {"body": "{{ no_such_variable.x }}"}
    resp = await client.patch(f"/api/v1/agreement-templates/{tid}", json=broken, headers=admin)
    assert resp.status == 422 and (await resp.json())["error"]["code"] == "bad_template"
    edited = {"body": body.replace("借贷纠纷调解协议书", "民间借贷调解协议书")}
    resp = await client.patch(f"/api/v1/agreement-templates/{tid}", json=edited, headers=admin)
    versions = (await resp.json())["versions"]
    assert [v["number"] for v in versions] == [1, 2] and versions[0]["body"] == body
    # The case's cause (民间借贷纠纷) picks the specific template's latest version.
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)}, headers=med)  # fmt: skip
    aid = (await resp.json())["id"]
    html = await (await client.get(f"/api/v1/agreements/{aid}/document", headers=med)).text()
    assert "民间借贷调解协议书" in html


async def test_the_document_names_the_mediators_own_unit_and_where_the_case_came_from(client):
    """The mediator (诉调对接中心) is named with her own unit; the street office that
    registered the case (沙坪街道办事处) is where the case came from, not who mediated it."""
    w = await build_world(client, office="shaping")
    med = {"Authorization": f"Bearer {await bearer(client, 'med')}"}
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement",
                             json={"terms": terms_for(w)}, headers=med)  # fmt: skip
    assert resp.status == 201, await resp.text()
    aid = (await resp.json())["id"]
    html = await (await client.get(f"/api/v1/agreements/{aid}/document", headers=med)).text()
    assert "经诉调对接中心调解员王调解主持调解" in html
    assert "案件来源：沙坪街道办事处" in html
    assert "经沙坪街道办事处调解员" not in html
    # The judicial ruling says which unit mediated, from the same snapshot.
    ctx = sample_context()
    ctx["case"] = {**ctx["case"], "office": "蔡洼街道办事处", "mediator_office": "诉调对接中心"}
    ruling = templates.compiled(templates.builtin_body("ruling")).render(ctx)
    assert "经诉调对接中心主持调解" in ruling and "经蔡洼街道办事处主持调解" not in ruling


# The wording of databases made before issue 14: the street office named as the mediator's unit.
_NEW_WORDING = "经{{ case.mediator_office or case.office }}调解员"
_OLD_BODY = templates.builtin_body("agreement").replace(_NEW_WORDING, "经{{ case.office }}调解员")


async def _old_database(client, *, admin_edit: str | None = None) -> int:
    """The built-in agreement template as an older release copied it in (its version 1 the
    old wording), optionally followed by an admin's own version; returns the template id."""
    admin = await make_user(client, "tpl-admin", "admin")
    async with unit(client.app) as ctx:
        t = AgreementTemplate(kind="agreement", name="调解协议书（通用）", case_type="")
        ctx.db.add(t)
        await ctx.db.flush()
        bodies = [(_OLD_BODY, None)] + ([(admin_edit, admin.id)] if admin_edit else [])
        for number, (body, by) in enumerate(bodies, 1):
            ctx.db.add(AgreementTemplateVersion(template_id=t.id, number=number, body=body,
                                                sha256=templates.body_hash(body),
                                                created_by_id=by))  # fmt: skip
        return t.id


async def _versions(client, template_id: int) -> list[AgreementTemplateVersion]:
    async with unit(client.app) as ctx:
        rows = await ctx.db.scalars(
            select(AgreementTemplateVersion)
            .where(AgreementTemplateVersion.template_id == template_id)
            .order_by(AgreementTemplateVersion.number)
        )
        return list(rows)


async def test_an_old_databases_builtin_wording_is_upgraded_once(client):
    assert templates.builtin_body("agreement") != _OLD_BODY
    tid = await _old_database(client)
    async with unit(client.app) as ctx:
        await templates.ensure_builtin(ctx.db)
    versions = await _versions(client, tid)
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].body == _OLD_BODY  # the old version stays, as every version does
    assert versions[1].body == templates.builtin_body("agreement")
    assert versions[1].created_by_id is None  # a built-in version, not an admin's
    # The file unchanged since: nothing more is added, however often it is checked.
    for _ in range(2):
        async with unit(client.app) as ctx:
            await templates.ensure_builtin(ctx.db)
    assert [v.number for v in await _versions(client, tid)] == [1, 2]


async def test_an_admins_edit_of_a_builtin_template_is_kept(client, caplog):
    # Its own text in each run: the notice is logged once per process for each text.
    edited = _OLD_BODY.replace("调解协议书</h1>", f"人民调解协议书</h1><!-- {uuid4().hex} -->")
    tid = await _old_database(client, admin_edit=edited)
    with caplog.at_level("INFO", logger="server.agreements.templates"):
        async with unit(client.app) as ctx:
            await templates.ensure_builtin(ctx.db)
    versions = await _versions(client, tid)
    assert [v.number for v in versions] == [1, 2] and versions[-1].body == edited
    assert "newer built-in" in caplog.text  # said where the admin can read it: the log


async def test_a_fresh_database_gets_each_builtin_once(client):
    for _ in range(2):
        async with unit(client.app) as ctx:
            await templates.ensure_builtin(ctx.db)
    async with unit(client.app) as ctx:
        rows = (await ctx.db.scalars(select(AgreementTemplate))).all()
        assert sorted(t.kind for t in rows) == ["agreement", "ruling"]
        for t in rows:
            latest = await templates.latest_version(ctx.db, t.id)
            assert latest.number == 1 and latest.body == templates.builtin_body(t.kind)
