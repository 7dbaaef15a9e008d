"""Shared set-up for the agreement tests: a pre-litigation case with two consenting parties
(registered, moved and assigned through the domain functions), a session with one invite link
per party, the staff around it, and a PNG signature drawn in memory."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import select

from server import docket
from server.agreements import drafting, fonts
from server.agreements.terms import Terms
from server.context import Context
from server.docket.schemas import CaseCreate, PartyIn
from server.models.accounts import Office, User
from server.models.docket import Case, Party, Stage
from server.sessions import create_invite, create_session
from server.web.keys import SETTINGS
from tests.docket_helpers import office_id as docket_office_id
from tests.docket_helpers import stop_clock
from tests.helpers import make_user, unit

# The static font instances, made once per machine and shared by every test's data dir.
TEST_FONTS = Path("/tmp") / "courtlink-test-fonts"
_FONT_CACHE: dict[int, Path] = {}


def share_fonts(target: Path, cache_root: Path = TEST_FONTS) -> None:
    """Static font instances are made once per test run, then copied into each data dir
    (the current ones only: the cache may hold instances older code made)."""
    if not _FONT_CACHE:
        _FONT_CACHE.update(fonts.prepare(cache_root))
    target.mkdir(parents=True, exist_ok=True)
    for f in _FONT_CACHE.values():
        if not (target / f.name).exists():
            shutil.copyfile(f, target / f.name)


def signature_png(seed: int = 1) -> bytes:
    img = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    draw = ImageDraw.Draw(img)
    draw.line([(10, 80), (80 + seed, 20), (150, 70), (290, 30)], fill=(0, 0, 0, 255), width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class World:
    case_id: int
    applicant_id: int
    respondent_id: int
    session_id: int
    tokens: dict[int, str]
    users: dict[str, User]


TERMS: dict[str, Any] = {
    "obligations": [],
    "clauses": ["双方就本纠纷再无其他争议。"],
}


async def drafted_loan_case(ctx: Context, mediator: User, number: str) -> Case:
    """A pre-litigation loan case ``number`` of 张三 against 李四 at the 沙坪 street office,
    mediated by ``mediator``, its agreement drafted under the court's name (version 1, ready
    to sign: 李四 repays 张三 30,000 yuan by bank transfer by 2026-12-31)."""
    office = await ctx.db.scalar(select(Office).where(Office.code == "shaping"))
    assert office is not None
    case = Case(number=number, cause="民间借贷纠纷", stage="pre_litigation_mediation",
                office_id=office.id, mediator_id=mediator.id, was_pre_litigation=True)  # fmt: skip
    case.parties = [Party(side="applicant", name="张三"), Party(side="respondent", name="李四")]
    ctx.db.add(case)
    await ctx.db.flush()
    terms = Terms.model_validate({
        "obligations": [{"obligor_party_id": case.parties[1].id,
                         "obligee_party_id": case.parties[0].id, "action": "pay",
                         "description": "借款", "amount_fen": 3_000_000,
                         "due_date": "2026-12-31", "method": "bank_transfer"}],
        "clauses": ["双方就本纠纷再无其他争议。"],
    })  # fmt: skip
    await drafting.create(ctx, case, terms)
    return case


def terms_for(w: World, amount: Any = 5_000_000) -> dict[str, Any]:
    return {
        "obligations": [
            {
                "obligor_party_id": w.respondent_id,
                "obligee_party_id": w.applicant_id,
                "action": "pay",
                "description": "借款",
                "amount_fen": amount,
                "due_date": "2026-12-31",
                "method": "bank_transfer",
            }
        ],
        "clauses": ["双方就本纠纷再无其他争议。", "案件受理费减半收取，由被申请人负担。"],
    }


async def build_world(client: TestClient, office: str = "shaping") -> World:
    users = {
        "mediator": await make_user(client, "med", "mediator", display_name="王调解"),
        "mediator2": await make_user(client, "med2", "mediator"),
        "judge": await make_user(client, "judge", "judge", display_name="赵法官"),
        "clerk": await make_user(client, "clerk", "clerk", display_name="钱书记"),
        "admin": await make_user(client, "admin", "admin"),
        "staff_own": await make_user(client, "staff_own", "office_staff", office=office),
        "staff_other": await make_user(client, "staff_other", "office_staff", office="caiwa"),
    }
    share_fonts(client.app[SETTINGS].data_dir / "fonts")
    office_id = await docket_office_id(client, office)
    async with unit(client.app, users["admin"]) as ctx:
        # Registered and taken into pre-litigation mediation on a fixed day of 2026 (so the
        # case carries that year's first 民诉前调 number), assigned, all by the domain
        # functions; the session and its links are made now.
        stop_clock(ctx, date(2026, 11, 20))
        case = await docket.create_case(
            ctx,
            CaseCreate(
                cause="民间借贷纠纷",
                facts="申请人于2025年借给被申请人人民币五万元，约定半年归还，被申请人到期未还。",
                claim_fen=5_000_000,
                parties=[
                    PartyIn(side="applicant", name="张三", address="沙坪街道幸福路1号",
                            phone="13800000001", consent=True),
                    PartyIn(side="respondent", name="李四", address="蔡洼街道光明路8号",
                            consent=True),
                ],
            ),
            office_id=office_id,
        )  # fmt: skip
        await docket.transition(ctx, case, Stage.PRE_LITIGATION_MEDIATION)
        await docket.assign(
            ctx,
            case,
            mediator_id=users["mediator"].id,
            judge_id=users["judge"].id,
            clerk_id=users["clerk"].id,
        )
    async with unit(client.app, users["mediator"]) as ctx:
        case = await docket.get_case(ctx, case.id)
        await ctx.db.refresh(case, ["parties"])
        session = await create_session(ctx, case, kind="mediation")
        tokens = {}
        for party in case.parties:
            _invite, url = await create_invite(ctx, session, party)
            tokens[party.id] = url.rsplit("/", 1)[1]
    return World(case.id, case.parties[0].id, case.parties[1].id, session.id, tokens, users)


async def bearer(client: TestClient, username: str) -> str:
    """A bearer token through the real token endpoint (a browser-less client sends the
    CSRF pair the middleware asks of any cookie-carrying POST)."""
    from tests.helpers import PASSWORD, csrf

    await client.get("/login")
    resp = await client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        headers={"X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 201, await resp.text()
    token: str = (await resp.json())["token"]
    return token
