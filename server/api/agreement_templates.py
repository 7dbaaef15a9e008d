"""Document templates API: court staff read them; admins add templates and edit them, every
edit a new version (old versions are kept and listed). A template that does not render the
sample case is refused with 422 ``bad_template``."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server.access import can_edit_agreement_templates, can_read_agreement_templates
from server.agreements import templates
from server.api.registry import ApiRouter
from server.errors import Forbidden, NotFound
from server.models.agreements import AgreementTemplate
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("agreement templates")


class TemplateVersionOut(BaseModel):
    id: int
    number: int
    sha256: str
    created_at: datetime
    body: str | None = Field(default=None, description="only on the template's own page")


class TemplateOut(BaseModel):
    id: int
    kind: str
    name: str
    case_type: str
    active: bool
    versions: list[TemplateVersionOut]


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="agreement or ruling")
    name: str = Field(min_length=1, max_length=128)
    case_type: str = Field(default="", max_length=128, description="causes it is for; '' = default")
    body: str = Field(min_length=1, max_length=200_000, description="Jinja2 (sandboxed) HTML")


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    case_type: str | None = Field(default=None, max_length=128)
    active: bool | None = None
    body: str | None = Field(default=None, min_length=1, max_length=200_000)


def _out(t: AgreementTemplate, *, bodies: bool) -> dict[str, object]:
    return TemplateOut(
        id=t.id, kind=t.kind, name=t.name, case_type=t.case_type, active=t.active,
        versions=[
            TemplateVersionOut(id=v.id, number=v.number, sha256=v.sha256,
                               created_at=v.created_at, body=v.body if bodies else None)
            for v in t.versions
        ],
    ).model_dump(mode="json")  # fmt: skip


def _staff(request: web.Request) -> None:
    if not can_read_agreement_templates(require_user(request)):
        raise Forbidden("document templates are for court staff")


def _admin(request: web.Request) -> None:
    if not can_edit_agreement_templates(require_user(request)):
        raise Forbidden("only an admin edits document templates")


async def _load(request: web.Request) -> AgreementTemplate:
    db = request[CTX].db
    template_id = path_id(request, "template_id")
    t = await db.get(AgreementTemplate, template_id)
    if t is None:
        raise NotFound(
            "template {id} not found", code="template_not_found", values={"id": template_id}
        )
    await db.refresh(t, ["versions"])
    return t


@api.route(
    "GET", "/agreement-templates", name="api_agreement_templates",
    summary="Document templates (court staff)", response=TemplateOut, response_list=True,
)  # fmt: skip
async def list_templates(request: web.Request) -> web.Response:
    _staff(request)
    db = request[CTX].db
    await templates.ensure_builtin(db)
    rows = (await db.scalars(select(AgreementTemplate).order_by(AgreementTemplate.id))).all()
    return json_ok([_out(t, bodies=False) for t in rows])


@api.route(
    "POST", "/agreement-templates", name="api_agreement_template_create",
    summary="Add a template (admin)", body=TemplateIn, response=TemplateOut, status=201,
)  # fmt: skip
async def create_template(request: web.Request) -> web.Response:
    _admin(request)
    body = await read_json(request, TemplateIn)
    ctx = request[CTX]
    t = await templates.create_template(
        ctx, kind=body.kind, name=body.name, case_type=body.case_type, body=body.body
    )
    await ctx.db.refresh(t, ["versions"])
    return json_ok(_out(t, bodies=True), 201)


@api.route(
    "GET", r"/agreement-templates/{template_id:\d+}", name="api_agreement_template",
    summary="One template with every version", response=TemplateOut, errors=(404,),
)  # fmt: skip
async def get_template(request: web.Request) -> web.Response:
    _staff(request)
    return json_ok(_out(await _load(request), bodies=True))


@api.route(
    "PATCH", r"/agreement-templates/{template_id:\d+}", name="api_agreement_template_update",
    summary="Edit a template (admin): a changed body is a new version", body=TemplatePatch,
    response=TemplateOut, errors=(404,),
)  # fmt: skip
async def edit_template(request: web.Request) -> web.Response:
    _admin(request)
    body = await read_json(request, TemplatePatch)
    t = await _load(request)
    ctx = request[CTX]
    await templates.edit_template(
        ctx, t, body=body.body, name=body.name, case_type=body.case_type, active=body.active
    )
    await ctx.db.refresh(t, ["versions"])
    return json_ok(_out(t, bodies=True))
