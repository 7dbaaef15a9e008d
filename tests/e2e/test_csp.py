"""The pages under their Content-Security-Policy in real Chromium (issue 12, finding 11):
each key page loads with the policy in force and no violation reported, so nothing the pages
need was an inline script, a ``javascript:`` link or an inline handler. A script injected
inline is refused (the detector can fail)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from server.docket import get_case
from server.models.docket import Case
from server.models.sessions import MediationSession
from server.sessions import create_invite
from tests.docket_helpers import court_admin
from tests.e2e.conftest import LiveServer, log_in
from tests.helpers import unit
from tests.recording_db import case_with_session, recorded_session

pytestmark = pytest.mark.e2e

# Recorded by the page itself (Playwright's init scripts run under any policy).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__violations.push(e.violatedDirective + " " + e.blockedURI));
"""


async def _page(browser: Browser, server: LiveServer) -> tuple[Page, list[str]]:
    context = await browser.new_context(base_url=server.url, locale="zh-CN")
    await context.add_init_script(WATCH)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


async def _visit(page: Page, path: str) -> None:
    resp = await page.goto(path)
    assert resp is not None and resp.status < 500, (path, resp and resp.status)
    csp = await resp.header_value("content-security-policy")
    assert csp and "script-src 'self'" in csp, (path, csp)
    await page.wait_for_load_state("networkidle")


async def _violations(page: Page, errors: list[str]) -> list[str]:
    """What this page reported (the console's list is emptied for the next page)."""
    found: list[str] = await page.evaluate("window.__violations")
    found += [e for e in errors if "Content Security Policy" in e]
    errors.clear()
    return found


async def test_key_pages_load_without_a_csp_violation(
    live_server: LiveServer, media_browser: Browser, live_user: Any
) -> None:
    shim: Any = SimpleNamespace(app=live_server.app)
    clerk = await live_user("clerk1", "clerk")
    mediator = await live_user("med1", "mediator")
    assert clerk.id and mediator.id
    case_id, recorded_id = await recorded_session(shim, mediator_id=mediator.id)
    open_case, open_id = await case_with_session(shim, mediator_id=mediator.id, status="open")
    async with unit(live_server.app, await court_admin(shim)) as ctx:
        case: Case = await get_case(ctx, open_case)
        session = await ctx.db.get(MediationSession, open_id)
        assert session is not None
        _, url = await create_invite(ctx, session, case.parties[0])
    token_path = "/join/" + url.split("/join/", 1)[1]

    visited: dict[str, list[str]] = {}
    anonymous, errors = await _page(media_browser, live_server)
    for path in ("/login", "/verify", "/intake", "/cases/99999", token_path):
        await _visit(anonymous, path)
        visited[path] = await _violations(anonymous, errors)

    staff, errors = await _page(media_browser, live_server)
    await log_in(staff, "med1")
    for path in (
        "/cases",
        f"/cases/{case_id}",
        f"/recordings/sessions/{recorded_id}",
        f"/cases/{open_case}/agreement",
        f"/sessions/{open_id}",
        f"/sessions/{open_id}/join",
        "/schedule/my",
    ):
        await _visit(staff, path)
        if path == f"/cases/{case_id}":
            # The recordings list, filled by its script file (an inline script until now).
            await staff.wait_for_selector("#recordings-list a")
        visited[path] = await _violations(staff, errors)
    assert len(visited) == 12
    assert {p: v for p, v in visited.items() if v} == {}

    # The detector itself: an inline script is refused and reported.
    await staff.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.append(s); }"
    )
    await staff.wait_for_function("window.__violations.length > 0")
    assert await staff.evaluate("window.x") is None
