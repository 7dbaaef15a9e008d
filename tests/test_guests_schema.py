"""Migration 0011 (session guests) builds what the models say, on SQLite and PostgreSQL: the
guests' table, an invite naming a party or a guest (exactly one), and back down again."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from server.db import make_engine
from server.migrate import alembic_config
from server.models import Base
from server.settings import Settings

OURS = {"session_guests", "invites"}


def _touches_ours(diff: Any) -> bool:
    """Whether one autogenerate difference is about our tables (others' work in progress is
    theirs to keep in step)."""
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        for part in item[1:]:
            table = getattr(part, "table", None)
            name = getattr(part, "name", None) if table is None else table.name
            if name in OURS or (isinstance(part, str) and part in OURS):
                return True
    return False


def _differences(conn: Connection) -> list[Any]:
    mc = MigrationContext.configure(conn, opts={"compare_type": True})
    return [d for d in compare_metadata(mc, Base.metadata) if _touches_ours(d)]


def _check_names(conn: Connection) -> list[str]:
    return [c["name"] for c in inspect(conn).get_check_constraints("invites")]


async def test_the_migration_matches_the_models(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            assert "ck_invites_party_or_guest" in await conn.run_sync(_check_names)
            # An invite for nobody, or for a party and a guest at once, is refused.
            with pytest.raises(IntegrityError, match="party_or_guest"):
                await conn.execute(
                    text(
                        "INSERT INTO invites (session_id, party_id, guest_id, nonce, created_at,"
                        " expires_at) VALUES (1, NULL, NULL, 'n', CURRENT_TIMESTAMP,"
                        " CURRENT_TIMESTAMP)"
                    )
                )
            await conn.rollback()
    finally:
        await engine.dispose()


def test_down_and_up_again(settings: Settings) -> None:
    cfg = alembic_config(settings)
    command.downgrade(cfg, "0010_case_documents")
    command.upgrade(cfg, "heads")
