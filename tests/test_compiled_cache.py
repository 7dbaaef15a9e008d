"""Every engine of a process shares one cache of compiled SQL (``server.compiled_cache``):
a second engine on the same kind of database reuses what the first compiled, and gets the
same rows; an engine on another kind of database compiles its own."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Select, literal, select
from sqlalchemy.engine import Dialect

from server.db import make_engine
from server.settings import Settings
from tests.conftest import _base_settings


def _new_statement() -> Select[tuple[str]]:
    """A statement no engine of this process has compiled yet: its label is new."""
    return select(literal("filed").label(f"probe_{uuid.uuid4().hex}"))


@pytest.fixture
def on_sqlite(tmp_path: Path, sqlite_template: Path) -> Settings:
    """Settings for a SQLite database beside the test's own."""
    path = tmp_path / "other" / "courtlink.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    return _base_settings(path.parent, f"sqlite+aiosqlite:///{path}")


async def _run(settings: Settings, statement: Select[tuple[str]]) -> tuple[object, str]:
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(statement)
            value = result.scalar_one()
            dialect: Dialect = conn.dialect
            hit = result.context.cache_hit  # type: ignore[attr-defined]
            return value, "hit" if hit == dialect.CACHE_HIT else "miss"
    finally:
        await engine.dispose()


async def test_a_second_engine_reuses_what_the_first_compiled(settings: Settings) -> None:
    statement = _new_statement()
    assert await _run(settings, statement) == ("filed", "miss")
    assert await _run(settings, statement) == ("filed", "hit")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_another_kind_of_database_compiles_its_own(
    settings: Settings, on_sqlite: Settings
) -> None:
    statement = _new_statement()
    assert await _run(on_sqlite, statement) == ("filed", "miss")
    assert await _run(settings, statement) == ("filed", "miss")
    assert await _run(settings, statement) == ("filed", "hit")
    assert await _run(on_sqlite, statement) == ("filed", "hit")
