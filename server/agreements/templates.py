"""The document templates: built-in files under ``web/templates/documents/``, copied into the
database on first use, then edited by admins; every edit is a new version, old ones stay.

Templates are Jinja2 run in a sandbox (an admin's template cannot reach Python internals)
with autoescaping; a new version is refused unless it renders the sample case cleanly.
Adding and editing (admins, by ``server.access``; the API checks) are audited here.
A template is chosen per case type: an active template whose ``case_type`` (comma-separated
causes of action) occurs in the case's cause wins over the default (``case_type`` empty).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.agreements.documents import sample_context
from server.agreements.terms import amount_in_words
from server.context import Context
from server.errors import Invalid, NotFound
from server.formatting import yuan
from server.models.agreements import AgreementTemplate, AgreementTemplateVersion
from server.models.docket import Case

DOCUMENTS_DIR = Path(__file__).resolve().parents[2] / "web" / "templates" / "documents"
KINDS = ("agreement", "ruling")
BUILTIN = {
    "agreement": ("调解协议书（通用）", "mediation_agreement.html"),
    "ruling": ("民事裁定书（司法确认）", "judicial_ruling.html"),
}
log = logging.getLogger(__name__)
_CN_DIGITS = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else _CN_DIGITS[tens]) + "十" + (_CN_DIGITS[ones] if ones else "")


def cn_date(value: date | str | None) -> str:
    """2026-11-27 -> 二〇二六年十一月二十七日 (the way court documents write dates)."""
    if value is None or value == "":
        return ""
    d = date.fromisoformat(value) if isinstance(value, str) else value
    year = "".join(_CN_DIGITS[int(c)] for c in str(d.year))
    return f"{year}年{_cn_number(d.month)}月{_cn_number(d.day)}日"


def document_env() -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["yuan"] = yuan
    env.filters["amount_words"] = amount_in_words
    env.filters["cn_date"] = cn_date
    env.filters["cn_number"] = _cn_number
    return env


_ENV = document_env()


@lru_cache(maxsize=64)
def compiled(body: str) -> jinja2.Template:
    return _ENV.from_string(body)


def builtin_body(kind: str) -> str:
    return (DOCUMENTS_DIR / BUILTIN[kind][1]).read_text(encoding="utf-8")


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def check_body(body: str) -> None:
    """Refuse a template that does not compile or does not render the sample document."""
    try:
        compiled(body).render(sample_context())
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise Invalid(
            "the template does not render (line {line}): {why}"
            if line
            else "the template does not render: {why}",
            code="bad_template",
            values={"line": line, "why": exc},
        ) from None


async def _add_version(
    db: AsyncSession, template: AgreementTemplate, body: str, user_id: int | None
) -> AgreementTemplateVersion:
    last = await db.scalar(
        select(func.max(AgreementTemplateVersion.number)).where(
            AgreementTemplateVersion.template_id == template.id
        )
    )
    version = AgreementTemplateVersion(
        template_id=template.id,
        number=(last or 0) + 1,
        body=body,
        sha256=body_hash(body),
        created_by_id=user_id,
    )
    db.add(version)
    await db.flush()
    return version


async def ensure_builtin(db: AsyncSession) -> None:
    """Copy the built-in templates into the database the first time one is needed, and keep
    an unedited built-in template up to its file: a database made by an older release gets
    the shipped wording (issue 14: the mediator's own unit) as a new version."""
    for kind, (name, _file) in BUILTIN.items():
        exists = await db.scalar(
            select(AgreementTemplate.id).where(AgreementTemplate.kind == kind).limit(1)
        )
        if exists is None:
            template = AgreementTemplate(kind=kind, name=name, case_type="")
            db.add(template)
            await db.flush()
            await _add_version(db, template, builtin_body(kind), None)
        else:
            await _follow_builtin(db, kind)


async def _follow_builtin(db: AsyncSession, kind: str) -> None:
    """A built-in version (one no user made) whose text differs from the shipped file gets
    the file's text as a new built-in version, unless an admin has saved a version after it:
    the admin's text is theirs to keep, and the newer built-in is only logged."""
    builtin = await db.scalar(
        select(AgreementTemplateVersion)
        .join(AgreementTemplate)
        .where(AgreementTemplate.kind == kind, AgreementTemplateVersion.created_by_id.is_(None))
        .order_by(AgreementTemplateVersion.template_id, AgreementTemplateVersion.number.desc())
        .limit(1)
    )
    body = builtin_body(kind)
    if builtin is None or builtin.sha256 == body_hash(body):
        return
    latest = await latest_version(db, builtin.template_id)
    if latest.number != builtin.number:
        noted = (latest.sha256, builtin.sha256, body_hash(body))
        if noted not in _NOTED:
            _NOTED.add(noted)
            log.info(
                "template %s (%s) has a newer built-in text in %s; an admin's version %s is"
                " kept: compare them and edit the template to take it",
                builtin.template_id, kind, BUILTIN[kind][1], latest.number,
            )  # fmt: skip
        return
    template = await db.get(AgreementTemplate, builtin.template_id)
    assert template is not None  # the version's foreign key
    try:
        async with db.begin_nested():
            await _add_version(db, template, body, None)
    except IntegrityError:
        pass  # another request added the same number first: the file's text is in


# (admin's text, older built-in, newer built-in) already logged: once per process, not on
# every document drafted.
_NOTED: set[tuple[str, str, str]] = set()


async def latest_version(db: AsyncSession, template_id: int) -> AgreementTemplateVersion:
    version = await db.scalar(
        select(AgreementTemplateVersion)
        .where(AgreementTemplateVersion.template_id == template_id)
        .order_by(AgreementTemplateVersion.number.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound(
            "template {id} has no version", code="template_not_found", values={"id": template_id}
        )
    return version


def _matches(template: AgreementTemplate, cause: str) -> bool:
    keys = [k.strip() for k in template.case_type.replace("，", ",").split(",") if k.strip()]
    return any(k in cause for k in keys)


async def choose(db: AsyncSession, kind: str, case: Case) -> AgreementTemplateVersion:
    """The template version for this kind of document and this case's type."""
    await ensure_builtin(db)
    templates = (
        await db.scalars(
            select(AgreementTemplate)
            .where(AgreementTemplate.kind == kind, AgreementTemplate.active.is_(True))
            .order_by(AgreementTemplate.id)
        )
    ).all()
    specific = [t for t in templates if t.case_type and _matches(t, case.cause)]
    default = [t for t in templates if not t.case_type]
    pick = specific or default or list(templates)
    if not pick:
        raise NotFound(
            "no active agreement template" if kind == "agreement" else "no active ruling template",
            code="template_not_found",
        )
    return await latest_version(db, pick[0].id)


async def create_template(
    ctx: Context, *, kind: str, name: str, case_type: str, body: str
) -> AgreementTemplate:
    """A new template with its first version, by the acting user."""
    user = ctx.require_user()
    if kind not in KINDS:
        raise Invalid("kind must be one of {kinds}", code="bad_kind", values={"kinds": list(KINDS)})
    check_body(body)
    template = AgreementTemplate(kind=kind, name=name, case_type=case_type)
    ctx.db.add(template)
    await ctx.db.flush()
    await _add_version(ctx.db, template, body, user.id)
    await audit.record(ctx, "agreement_template.create", "agreement_template", template.id)
    return template


async def edit_template(
    ctx: Context,
    template: AgreementTemplate,
    *,
    body: str | None = None,
    name: str | None = None,
    case_type: str | None = None,
    active: bool | None = None,
) -> AgreementTemplateVersion:
    """Change a template; a changed body is a new version (the old ones stay)."""
    user = ctx.require_user()
    if name is not None:
        template.name = name
    if case_type is not None:
        template.case_type = case_type
    if active is not None:
        template.active = active
    version = await latest_version(ctx.db, template.id)
    if body is not None and body_hash(body) != version.sha256:
        check_body(body)
        version = await _add_version(ctx.db, template, body, user.id)
    await audit.record(
        ctx, "agreement_template.edit", "agreement_template", template.id, version=version.number
    )
    return version
