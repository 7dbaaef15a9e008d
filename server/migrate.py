"""Apply Alembic migrations programmatically (``courtlink migrate`` and ``serve``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from server.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings) -> None:
    """Bring the database to every head (each domain keeps its own migration branch)."""
    command.upgrade(alembic_config(settings), "heads")


async def upgrade_async(settings: Settings, engine: AsyncEngine) -> None:
    cfg = alembic_config(settings)

    def _go(connection: object) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        await conn.run_sync(_go)


def upgrade_in_thread(settings: Settings) -> None:
    # env.py calls asyncio.run, which cannot nest inside a running loop.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        upgrade(settings)
        return
    raise RuntimeError("call upgrade_async from async code")
