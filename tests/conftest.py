"""Fixtures: the real app through its factory, on a real SQLite file and a real PostgreSQL.

Every test that asks for ``settings`` (or ``app``/``client``) runs twice, once per backend.
Each backend database is migrated once per run (once per xdist worker) into a template; each
test gets a fresh copy (a file copy for SQLite, ``CREATE DATABASE ... TEMPLATE`` for
PostgreSQL, made ahead and dropped after on a background thread), so tests never see each
other's rows and concurrent pytest runs on one machine never collide.
In CI (``CI=true``) an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import shutil
from collections import deque
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from server import eventloop
from server.app import create_app
from server.migrate import upgrade
from server.settings import Settings
from server.web.keys import ENGINE
from signaling.sfu import Sfu
from tests.checkouts import Checkouts
from tests.hangs import (  # noqa: F401 (the hang watch's fixture and hooks)
    pytest_sessionstart,
    pytest_terminal_summary,
    watch_for_hangs,
)
from tests.helpers import ensure_pg_reachable
from tests.sqlite_connections import left_open, watch

watch()

# The tests run on the loop `courtlink serve` runs on (uvloop where installed).
asyncio.set_event_loop_policy(eventloop.policy())

PG_ADMIN_DSN = os.environ.get("COURTLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PG_HOST_URL = PG_ADMIN_DSN.rsplit("/", 1)[0]
_RUN_ID = f"cl_{os.getpid()}"
_counter = itertools.count()


def _base_settings(data_dir: Path, url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": url,
        "secret_key": "test-secret-key-not-for-production",
        "public_url": "http://127.0.0.1:8080",
        "smtp_url": "",
        "redis_url": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sqlite-template")
    settings = _base_settings(base, "")
    upgrade(settings)
    return base / "courtlink.sqlite3"


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def copy_of(template: str, name: str) -> str:
    """The SQL that makes database ``name`` a copy of ``template``. PostgreSQL 15's default
    strategy (``WAL_LOG``) writes every block of the copy through the WAL, and ``FILE_COPY``
    took half its CPU per copy and drop alone; but in the suite it takes a checkpoint for each
    of the ~520 copies, beside tests that commit, and the run was no faster (bench/README.md,
    "Database copies by file"). So the default stays."""
    return f"CREATE DATABASE {name} TEMPLATE {template}"


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ensure_pg_reachable(PG_ADMIN_DSN)
    name = f"{_RUN_ID}_tmpl"
    asyncio.run(_pg_exec(f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_pg_exec(f"CREATE DATABASE {name}"))
    settings = _base_settings(
        tmp_path_factory.mktemp("pg-template"),
        f"postgresql+asyncpg://{PG_HOST_URL.split('://', 1)[1]}/{name}",
    )
    upgrade(settings)
    yield name
    asyncio.run(_drop_run_databases())


class PgCopies:
    """Fresh copies of the migrated template, made ahead of the tests that take them and
    dropped after them, on one background thread: a copy costs about 0.4 s and a drop 0.25 s
    of PostgreSQL's time, which then runs beside the tests instead of inside them."""

    AHEAD = 2

    def __init__(self, template: str) -> None:
        self.template = template
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copies")
        self._ready: deque[Future[str]] = deque()
        self._closed = False
        self._fill()

    def take(self) -> str:
        name = self._ready.popleft().result()
        self._fill()
        return name

    def drop(self, name: str) -> None:
        if self._closed:
            return  # the run's end: pg_template drops every database of the run
        self._thread.submit(self._run, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', name)

    def close(self) -> None:
        self._closed = True
        self._thread.shutdown(wait=True)  # the copies made ahead go with the run's databases

    def _fill(self) -> None:
        while len(self._ready) < self.AHEAD:
            name = f"{_RUN_ID}_{next(_counter)}"
            sql = copy_of(self.template, name)
            self._ready.append(self._thread.submit(self._run, sql, name))

    @staticmethod
    def _run(sql: str, name: str) -> str:
        asyncio.run(_pg_exec(sql))
        return name


# The copies a test took, dropped once the whole test is down (``pytest_runtest_teardown``).
_TO_DROP = pytest.StashKey[list[tuple[PgCopies, str]]]()


@pytest.fixture(scope="session")
def pg_copies(pg_template: str) -> Iterator[PgCopies]:
    copies = PgCopies(pg_template)
    yield copies
    copies.close()


async def _drop_run_databases() -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{_RUN_ID}_%"
        )
        for row in rows:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "var" / "courtlink.sqlite3"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, target)
        yield f"sqlite+aiosqlite:///{target}"
        return
    copies: PgCopies = request.getfixturevalue("pg_copies")
    name = copies.take()
    yield f"postgresql+asyncpg://{PG_HOST_URL.split('://', 1)[1]}/{name}"
    # Not dropped here: fixtures set up before this one (``aiohttp_client`` among them) are
    # torn down after it, and an app they still serve would stop on a vanished database
    # (its recordings sealed and audit rows chained against "does not exist", 5-10 s of
    # retries). Dropped once every fixture of the test is down: pytest_runtest_teardown.
    request.node.stash.setdefault(_TO_DROP, []).append((copies, name))


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is alive once the tests are collected (the libraries, the app's modules, the
    tests themselves) lives for the whole run: out of the collector's view, as the server
    does with its own start-up objects, every full collection a worker makes is that much
    shorter (four database-heavy files: 2.5-2.9 s in the collector instead of 3.0-3.1 s)."""
    gc.collect()
    gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        result = yield
    finally:
        for copies, name in item.stash.get(_TO_DROP, []):
            copies.drop(name)
        opened_at = left_open()  # forgotten even when the teardown failed
    assert not opened_at, "the test left SQLite connections open, opened at:\n" + "\n".join(
        opened_at
    )
    return result


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return _base_settings(tmp_path / "var", database_url)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def sfu() -> AsyncIterator[Sfu]:
    """A pass-through SFU on its own (no app), for the tests with in-process aiortc peers."""
    s = Sfu(ice_servers=[])
    yield s
    await s.close()


@pytest.fixture
async def client(aiohttp_client, app: web.Application) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    checkouts = Checkouts(app[ENGINE])
    test_client = await aiohttp_client(app)
    yield test_client
    # Stopped here (closing twice is harmless), so what the stop left holding a database
    # connection fails this test by name, not a later one by the collector's warning.
    await test_client.close()
    checkouts.check()
