"""Many writers and readers at once, on both databases: nobody gets a 5xx, every write lands
once with its audit row, and the sequencer chains all of them into one intact chain.

Writers no longer queue on a court-wide lock for the audit chain (issue 15): on PostgreSQL
nothing but their own rows' locks orders them; on SQLite the database's one write lock does,
taken only when a request writes (reads begin deferred). Twenty-four case registrations, each
with its parties, a consent and a timeline read, race forty list and detail reads."""

from __future__ import annotations

import asyncio
from collections import Counter

from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from server.audit.chain import chain_all
from server.audit.verify import verify_chain
from server.models.audit import AuditEntry
from server.models.docket import Case
from server.web.keys import COURT, SESSIONMAKER, SETTINGS
from tests.docket_helpers import bearer
from tests.helpers import make_user

WRITERS = 24
READERS = 40


async def test_concurrent_writers_and_readers_get_no_server_error(client: TestClient) -> None:
    await make_user(client, "clerk-c", "clerk", "center")
    headers = await bearer(client, "clerk-c")
    statuses: Counter[int] = Counter()

    async def write(i: int) -> None:
        resp = await client.post(
            "/api/v1/cases",
            json={"cause": "民间借贷纠纷", "office": "qiaotou", "facts": f"第{i}件"},
            headers=headers,
        )
        statuses[resp.status] += 1
        if resp.status != 201:
            return
        case = await resp.json()
        base = f"/api/v1/cases/{case['id']}"
        resp = await client.post(
            base + "/parties", json={"side": "applicant", "name": f"申请人{i}"}, headers=headers
        )
        statuses[resp.status] += 1
        party = await resp.json()
        resp = await client.post(
            base + "/consents", json={"party_id": party["id"], "consents": True}, headers=headers
        )
        statuses[resp.status] += 1
        statuses[(await client.get(base + "/timeline", headers=headers)).status] += 1

    async def read(i: int) -> None:
        path = "/api/v1/cases" if i % 2 else "/api/v1/cases/due-soon"
        statuses[(await client.get(path, headers=headers)).status] += 1

    await asyncio.gather(*(write(i) for i in range(WRITERS)), *(read(i) for i in range(READERS)))
    assert not [s for s in statuses if s >= 500], statuses
    assert statuses[201] == 3 * WRITERS and statuses[200] == WRITERS + READERS, statuses

    await chain_all(client.app[COURT])
    async with client.app[SESSIONMAKER]() as db:
        cases = await db.scalar(select(func.count(Case.id)))
        created = await db.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "case.create")
        )
        report = await verify_chain(db, client.app[SETTINGS])
    assert cases == WRITERS and created == WRITERS
    assert report.ok and report.pending == 0 and report.rows >= 3 * WRITERS, report
