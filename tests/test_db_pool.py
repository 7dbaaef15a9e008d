"""A request that finds every PostgreSQL connection busy for the whole pool timeout is
answered 503 "busy" with Retry-After, the error shape and nothing written, not a 500 (seen:
fifty simultaneous bookings of one slot on an overloaded machine, where twenty requests
waited 30 s for a connection); the pool's size and timeout are settings."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.app import create_app
from server.models.docket import Case
from server.web.keys import ENGINE, SESSIONMAKER
from tests.helpers import make_user, served_token


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_no_free_connection_is_a_503_busy(aiohttp_client, settings) -> None:
    small = settings.model_copy(
        update={
            "database_pool_size": 1,
            "database_pool_overflow": 0,
            "database_pool_timeout_seconds": 0.5,
        }
    )
    # The account and its token through an app with the usual pool: the small app's one
    # connection is also its background tasks' (a loaded CI run found it taken for the whole
    # half second while the test was still making its user).
    usual = await aiohttp_client(create_app(settings))
    await make_user(usual, "clerk", "clerk")
    token = await served_token(usual.session, str(usual.make_url("")), "clerk")
    client = await aiohttp_client(create_app(small))
    headers = {"Authorization": f"Bearer {token}"}
    body = {"cause": "民间借贷纠纷", "parties": []}
    held = await _the_one_connection(client.app[ENGINE])
    try:
        resp = await client.get("/api/v1/cases", headers=headers)
        assert resp.status == 503, await resp.text()
        assert resp.headers["Retry-After"] == "5"
        assert (await resp.json())["error"]["code"] == "busy"
        resp = await client.post("/api/v1/cases", headers=headers, json=body)
        assert resp.status == 503
    finally:
        await held.close()
    # Free again: the same requests are served (once the background tasks, which share the
    # one connection, let go of it).
    for _ in range(100):
        resp = await client.get("/api/v1/cases", headers=headers)
        if resp.status != 503:
            break
        await asyncio.sleep(0.1)
    assert resp.status == 200, await resp.text()
    async with client.app[SESSIONMAKER]() as db:
        assert await db.scalar(select(func.count()).select_from(Case)) == 0


async def _the_one_connection(engine: AsyncEngine) -> AsyncConnection:
    """The small pool's one connection, once the app's background tasks let go of it: they
    share it, and a loaded CI run found it busy for the whole half second of the test's own
    first try (the pool's TimeoutError, in the test, before any request was made)."""
    for _ in range(100):
        try:
            return await engine.connect()
        except exc.TimeoutError:
            await asyncio.sleep(0.1)
    raise AssertionError("the background tasks never let go of the pool's one connection")
