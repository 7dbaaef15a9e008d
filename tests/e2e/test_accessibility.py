"""axe-core over every page of the product, in Chinese, as the people who see it (issue 14
item 8): no serious or critical violation, at 1366x768 and at 375x812.

The pages are those of ``server.routes.PAGES`` that answer GET with HTML (the CSV, ICS,
recording files and WebSocket are not pages), on the real demo (``run_demo``) plus an agreement
drafted on the live case and a sealed recording (``tests/e2e/demo_world.py``). Staff pages are
visited as each role that sees them; the party pages (pre-join, lobby, signing) through a
party's invite link; the room as the host, before and after joining, with a party waiting in
the lobby. Every page's violations are collected before asserting, so one run names them all.
axe-core comes from tests/a11y (``make axe``); without it these tests fail, saying so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page
from sqlalchemy import select

from server.docket.intake import format_code
from server.docket.numbers import new_code
from server.models.accounts import Office
from server.models.scheduling import Booking
from tests.e2e.conftest import LiveServer, log_in
from tests.e2e.demo_world import (
    PASSWORDS,
    STAFF,
    STAFF_PASSWORD,
    Demo,
    add_documents,
    seed_demo,
    serve,
)
from tests.e2e.sessions import pass_selftest_and_join, wait_place
from tests.e2e.viewports import SIZES, axe_violations, describe, open_at, require_axe
from tests.helpers import unit

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Found = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Demo:
    require_axe()  # before the minute of seeding: a missing axe fails at once
    return seed_demo(tmp_path_factory.mktemp("a11y-demo") / "var", sqlite_template)


@pytest.fixture
async def server(tmp_path: Path, demo: Demo) -> AsyncIterator[LiveServer]:
    async with serve(tmp_path / "var", demo) as live:
        await add_documents(live, demo)
        yield live


async def check(page: Page, path: str, found: Found, label: str, status: int = 200) -> None:
    """Open ``path`` (it must answer ``status``) and add its violations to ``found``."""
    response = await page.goto(path)
    assert response is not None and response.status == status, (label, path, response)
    await page.wait_for_load_state("load")
    assert await page.get_attribute("html", "lang") in ("zh-CN", "zh-Hans", "zh"), path
    violations = await axe_violations(page)
    if violations:
        found[f"{label} {path}"] = violations


def report(found: Found) -> str:
    return "\n".join(f"--- {where}\n{describe(v)}" for where, v in found.items())


async def booking_of(server: LiveServer, office: str) -> int:
    async with unit(server.app) as ctx:
        office_id = await ctx.db.scalar(select(Office.id).where(Office.code == office))
        booking = await ctx.db.scalar(
            select(Booking.id).where(Booking.office_id == office_id).limit(1)
        )
    assert booking is not None, office
    return booking


def staff_paths(role: str, demo: Demo, booking: int) -> list[str]:
    case, rec = f"/cases/{demo.case_id}", demo.recorded_session_id
    everyone = ["/", "/cases", "/cases/due-soon", case, f"{case}/sessions", f"{case}/agreement"]
    return everyone + {
        "admin": [
            "/cases/new", "/reports", "/schedule/center", "/schedule/my", "/schedule/feed",
            "/admin/recordings", f"/recordings/sessions/{rec}", "/agreements",
            f"/sessions/{demo.session_id}", "/verify",
        ],
        "clerk": [
            "/cases/new", "/reports", "/schedule/center", f"/recordings/sessions/{rec}",
            "/agreements", "/desk", "/desk/roster",
        ],
        "judge": ["/reports", "/schedule/my"],  # the recorded case is not his
        "mediator": ["/schedule/my", "/schedule/feed", f"/sessions/{demo.session_id}", "/desk"],
        "office_staff": [
            "/cases/new", "/reports", "/schedule", "/schedule/availability",
            f"/schedule/bookings/{booking}", "/desk/terminal",
        ],
    }[role]  # fmt: skip


# Every role at a desk; on a phone the street office's staff and the mediator, who are the
# ones away from a desk (axe's findings hardly depend on the width; each page costs seconds).
ROLES = ("admin", "clerk", "judge", "mediator", "office_staff")
STAFF_VIEWS = [(role, "desktop") for role in ROLES]
STAFF_VIEWS += [("office_staff", "phone"), ("mediator", "phone")]


@pytest.mark.parametrize(("role", "size"), STAFF_VIEWS)
async def test_staff_pages(browser: Browser, server: LiveServer, demo: Demo, role: str, size: str):
    booking = await booking_of(server, "pingtan")
    page = await open_at(browser, server, SIZES[size])
    username = STAFF if role == "office_staff" else role
    await log_in(page, username, STAFF_PASSWORD if role == "office_staff" else PASSWORDS[role])
    found: Found = {}
    for path in staff_paths(role, demo, booking):
        await check(page, path, found, f"{role}@{size}")
    await page.context.close()
    assert not found, report(found)


@pytest.mark.parametrize("size", list(SIZES))
async def test_public_pages(browser: Browser, server: LiveServer, size: str):
    page = await open_at(browser, server, SIZES[size])
    found: Found = {}
    code = format_code(new_code())
    for path in ["/", "/login", "/intake", "/intake/track", f"/intake/done/{code}", "/verify"]:
        await check(page, path, found, f"anonymous@{size}")
    await check(page, f"/intake/track?code={code}", found, f"anonymous@{size}", status=404)
    await check(page, "/verify/NOSUCHCODE", found, f"anonymous@{size}", status=404)
    await check(page, "/no-such-page", found, f"anonymous@{size}", status=404)
    await page.context.close()
    assert not found, report(found)


@pytest.mark.parametrize("size", list(SIZES))
async def test_party_and_host_pages(
    media_browser: Browser, server: LiveServer, demo: Demo, size: str
):
    """The party's link: pre-join, the lobby, the room once admitted, the signing page; the
    host: pre-join and the room with the party waiting in the lobby."""
    found: Found = {}
    name, token = demo.party_tokens[0]
    host = await open_at(media_browser, server, SIZES[size])
    await log_in(host, "mediator", PASSWORDS["mediator"])
    await check(host, f"/sessions/{demo.session_id}/join", found, f"host@{size} pre-join")
    await host.context.close()
    host = await open_at(media_browser, server, SIZES["desktop"])  # hosts admit at a desk
    await log_in(host, "mediator", PASSWORDS["mediator"])
    await host.goto(f"/sessions/{demo.session_id}/join")
    await pass_selftest_and_join(host)
    await wait_place(host, "main")

    party = await open_at(media_browser, server, SIZES[size])
    await check(party, f"/join/{token}", found, f"party@{size} pre-join")
    party_pid = await pass_selftest_and_join(party, name)
    await wait_place(party, None)
    await _axe_here(party, found, f"party@{size} lobby")
    await host.wait_for_selector(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await _axe_here(host, found, "host@desktop room, party in the lobby")
    await host.click(f"#host-panel button[data-action=admit][data-pid='{party_pid}']")
    await wait_place(party, "main")
    await _axe_here(party, found, f"party@{size} room")
    await _axe_here(host, found, "host@desktop room")

    signer = await open_at(media_browser, server, SIZES[size])
    await check(signer, f"/sign/{token}", found, f"party@{size} signing")
    for page in (host, party, signer):
        await page.context.close()
    assert not found, report(found)


async def _axe_here(page: Page, found: Found, label: str) -> None:
    violations = await axe_violations(page)
    if violations:
        found[label] = violations
