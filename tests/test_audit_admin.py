"""The audit log's admin page: who may open it (admins only; every other role 403, another
office's staff too, anonymous and a party's link sent to log in), and what it shows: rows
waiting and the delay from written to chained, the latest checkpoint and the key."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest
from aiohttp.test_utils import TestClient

from server.audit.chain import chain_all
from server.web.keys import COURT, SUPERVISOR
from tests.docket_helpers import court_admin, new_case
from tests.helpers import login, make_user

ROLES = {
    "admin": ("center", 200),
    "clerk": ("center", 403),
    "judge": ("center", 403),
    "mediator": ("center", 403),
    "office_staff": ("qiaotou", 403),
}


@pytest.mark.parametrize("role", ROLES)
async def test_only_admins_open_the_audit_page(client: TestClient, role: str) -> None:
    office, status = ROLES[role]
    await make_user(client, f"u-{role}", role, office)
    await login(client, f"u-{role}")
    resp = await client.get("/admin/audit", allow_redirects=False)
    assert resp.status == status, await resp.text()
    nav = (await (await client.get("/cases")).text()).count('href="/admin/audit"')
    assert nav == (1 if status == 200 else 0)


async def test_anonymous_and_a_party_link_are_sent_to_log_in(client: TestClient) -> None:
    resp = await client.get("/admin/audit", allow_redirects=False)
    assert resp.status in (302, 303) and "/login" in resp.headers["Location"]
    api = await client.get("/admin/audit", headers={"Accept": "application/json"})
    assert "audit-chained" not in await api.text()


async def test_the_page_shows_waiting_rows_then_the_delay_and_checkpoint(
    client: TestClient,
) -> None:
    await make_user(client, "auditor", "admin", "center")
    await login(client, "auditor")
    # Stop this app's sequencer, as if it had died: rows wait and the page says so.
    worker = client.app[SUPERVISOR].tasks["audit-sequencer"].task
    assert worker is not None
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    await new_case(client, await court_admin(client))
    html = await (await client.get("/admin/audit")).text()
    assert 'id="audit-chained"' in html and 'id="audit-public-key"' in html
    assert '<dd id="audit-pending">0</dd>' not in html and "最早一条已等待" in html
    await chain_all(client.app[COURT])
    await asyncio.sleep(0)
    html = await (await client.get("/admin/audit")).text()
    assert '<dd id="audit-pending">0</dd>' in html
    assert "中位数" in html and "最长" in html
    assert "最新：共" in html


async def test_the_delay_is_real_time_even_for_back_dated_rows(client: TestClient) -> None:
    """The demo writes its year's history on the court's clock set back months: the delay
    shown is from writing to chaining in real time, not from the row's date."""
    await make_user(client, "auditor2", "admin", "center")
    await login(client, "auditor2")
    admin = await court_admin(client)
    await new_case(client, admin, on=date(2026, 1, 5))  # months ago on the court's clock
    await chain_all(client.app[COURT])
    html = await (await client.get("/admin/audit")).text()
    found = re.search(r"最长 ([0-9.]+) 秒", html)
    assert found, html
    assert float(found.group(1)) < 60, found.group(0)
