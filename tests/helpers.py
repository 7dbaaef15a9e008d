"""Test helpers that act as a user would: create accounts, log in, send forms with CSRF."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import asyncpg
import pytest
from _client import free_port as free_port  # the one version, shared with the benches
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from sqlalchemy import event, select

from server.audit.chain import chain_all, chain_head, pending_count
from server.audit.checkpoints import is_due, latest
from server.context import Actor, Context
from server.models.accounts import Office, User
from server.web.auth import CSRF_COOKIE
from server.web.keys import COURT, SESSIONMAKER, SETTINGS

PASSWORD = "correct horse battery staple"
# Test accounts' hash of PASSWORD, made once and cheap. argon2 keeps its cost in the hash, so
# logging in as a test account verifies at this cost instead of the product's (a deliberate
# half second of CPU here, paid hundreds of times a run). Accounts made through the product
# (the users API, the demo) are hashed at the product's cost.
PASSWORD_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)


def ensure_pg_reachable(dsn: str) -> None:
    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable in CI ({dsn}): {exc}")
        pytest.skip(f"PostgreSQL unreachable ({dsn}): {exc}; start it to run these tests")


async def make_user(
    client: TestClient, username: str, role: str, office: str = "center", **extra: Any
) -> User:
    maker = client.app[SESSIONMAKER]
    async with maker() as db:
        office_row = await db.scalar(select(Office).where(Office.code == office))
        assert office_row is not None, office
        user = User(
            username=username,
            display_name=extra.pop("display_name", username),
            role=role,
            office_id=office_row.id,
            password_hash=PASSWORD_HASH,
            **extra,
        )
        db.add(user)
        await db.commit()
        await db.refresh(user)
        return user


def csrf(client: TestClient) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == CSRF_COOKIE:
            return cookie.value
    raise AssertionError("no CSRF cookie yet; GET a page first")


async def login(client: TestClient, username: str, password: str = PASSWORD) -> None:
    await client.get("/login")
    resp = await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf(client)},
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()


async def post_form(client: TestClient, path: str, data: dict[str, Any], **kw: Any) -> Any:
    return await client.post(path, data={**data, "csrf_token": csrf(client)}, **kw)


async def api_token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    resp = await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )
    assert resp.status == 201, await resp.text()
    token: str = (await resp.json())["token"]
    return token


async def served_token(
    http: aiohttp.ClientSession, base: str, username: str, password: str = PASSWORD
) -> str:
    """A bearer token for ``username`` from the token endpoint of the server at ``base`` (the
    test server, or a real ``courtlink serve``). The endpoint asks for the CSRF pair, so the
    login page is fetched first; the cookies are dropped afterwards so that the calls that
    follow are pure bearer-token calls."""
    async with http.get(base + "/login") as resp:
        await resp.read()
    pair = next(c.value for c in http.cookie_jar if c.key == CSRF_COOKIE)
    async with http.post(
        base + "/api/v1/auth/token",
        headers={"X-CSRF-Token": pair},
        json={"username": username, "password": password},
    ) as resp:
        assert resp.status == 201, await resp.text()
        token: str = (await resp.json())["token"]
    http.cookie_jar.clear()
    return token


@asynccontextmanager
async def unit(app: web.Application, user: User | None = None) -> AsyncIterator[Context]:
    """A unit of work on the app's court, as ``user`` (the system when None): how a test
    calls a domain function directly, the way the CLI and the workers do. The user is loaded
    into the unit's own session, as the web layer does, so its relations load there."""
    async with app[COURT].unit(Actor.system("test")) as ctx:
        if user is not None:
            own = await ctx.db.get(User, user.id)
            assert own is not None, user.username
            ctx.actor = Actor.for_user(own)
        yield ctx


@asynccontextmanager
async def sqlite_write_lock(app: web.Application) -> AsyncIterator[sqlite3.Connection]:
    """Another process's writer, mid-transaction, on ``app``'s SQLite file. The lock is taken
    off the event loop: the app's own writers (the audit sequencer) may hold it a moment, and
    they need the loop to let go."""
    url = app[SETTINGS].effective_database_url
    conn = sqlite3.connect(
        url.split("///", 1)[1], isolation_level=None, timeout=30, check_same_thread=False
    )
    try:
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        yield conn
    finally:
        if conn.in_transaction:
            await asyncio.to_thread(conn.rollback)
        conn.close()


async def audit_settled(app: web.Application) -> None:
    """Wait until every committed audit row is chained and no checkpoint is owed, so that a
    snapshot of the tables stays what it is (on PostgreSQL ``chain_all`` gives way while the
    app's own sequencer holds the turn, and that one may sign a checkpoint just after)."""
    court = app[COURT]
    for _ in range(200):
        await chain_all(court)
        async with app[SESSIONMAKER]() as db:
            waiting, head, last = await pending_count(db), await chain_head(db), await latest(db)
        owed = is_due(head.size, last and last.size, last and last.at, court.clock())
        if not waiting and not owed:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the audit chain did not settle within 10 s")


@contextmanager
def smtp_server(handler: Any) -> Iterator[int]:
    """A real SMTP server (aiosmtpd, on a thread of its own) answering with ``handler``, on
    a free port, which it yields; stopped with ``stop_smtp``."""
    port = free_port()
    # On the suite's uvloop, as before: a plain asyncio loop there left the SMTP sessions'
    # transports to be collected unclosed (ResourceWarning, an error in a clean-clone run),
    # which is worse than uvloop's rare EBUSY at close under a load of 9.
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        stop_smtp(controller)


def stop_smtp(controller: Any) -> None:
    """Stop a test's aiosmtpd server aside, for at most 10 s: aiosmtpd's ``stop`` joins its
    thread without a bound, and once in a clean-clone run it never returned (its loop idle,
    the join waiting), holding the whole suite."""
    stopper = threading.Thread(target=controller.stop, kwargs={"no_assert": True}, daemon=True)
    stopper.start()
    stopper.join(10)


@asynccontextmanager
async def statements(ctx: Context) -> AsyncIterator[list[str]]:
    """The statements ``ctx``'s own transaction runs meanwhile (not the app's workers'), each
    cut to its first 70 characters: how a test holds an operation to its budget."""
    seen: list[str] = []
    conn = (await ctx.db.connection()).sync_connection
    assert conn is not None

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement[:70])

    event.listen(conn, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", on_execute)
