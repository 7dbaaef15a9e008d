"""Demo seed benchmark: how long ``courtlink demo`` takes to seed its year of cases, how many
SQL statements that is, how many docket operations a second that makes, how long the
idempotent second run and the year's report take.

    python bench/demo_seed.py --backend sqlite --json var/bench/demo_seed.json
    python bench/demo_seed.py --backend both --pg-dsn postgresql://postgres@127.0.0.1:5432/test

Each run uses a fresh database (a temporary SQLite file, or a new PostgreSQL database that is
dropped afterwards), migrated before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import write_result

from server.context import Actor, Court
from server.db import make_engine, make_sessionmaker
from server.demo import run_demo
from server.demo_data import DEMO_YEAR
from server.migrate import upgrade
from server.models.docket import DocketEntry
from server.reports import build_report
from server.settings import Settings

STATEMENTS = {"n": 0}


@event.listens_for(Engine, "before_cursor_execute")
def _count(*_args: Any) -> None:
    STATEMENTS["n"] += 1


async def _timed(coro: Any) -> tuple[Any, float, float, int]:
    STATEMENTS["n"] = 0
    wall, cpu = time.perf_counter(), time.process_time()
    result = await coro
    return result, time.perf_counter() - wall, time.process_time() - cpu, STATEMENTS["n"]


@contextlib.asynccontextmanager
async def _court(settings: Settings) -> AsyncIterator[Court]:
    """A court on its own engine, for one reading after the seed; the engine goes after."""
    engine = make_engine(settings)
    try:
        yield Court.build(settings, make_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _report(settings: Settings) -> Any:
    async with _court(settings) as court, court.unit(Actor.system("bench")) as ctx:
        return await build_report(ctx, year=DEMO_YEAR, office=None)


async def _docket_operations(settings: Settings) -> int:
    """The docket operations the seed made: each (registration, assignment, move, consent)
    leaves one entry on its case's timeline."""
    async with _court(settings) as court, court.unit(Actor.system("bench")) as ctx:
        return int(await ctx.db.scalar(select(func.count()).select_from(DocketEntry)) or 0)


async def bench(backend: str, pg_dsn: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url, dbname = "", ""
        if backend == "postgres":
            dbname = f"bench_demo_{os.getpid()}"
            conn = await asyncpg.connect(pg_dsn)
            await conn.execute(f"DROP DATABASE IF EXISTS {dbname}")
            await conn.execute(f"CREATE DATABASE {dbname}")
            await conn.close()
            url = "postgresql+asyncpg://" + pg_dsn.split("://", 1)[1].rsplit("/", 1)[0]
            url += "/" + dbname
        settings = Settings(_env_file=None, data_dir=Path(tmp), database_url=url)  # type: ignore[call-arg]
        await asyncio.to_thread(upgrade, settings)
        try:
            lines, wall, cpu, stmts = await _timed(run_demo(settings, own_process=True))
            operations = await _docket_operations(settings)
            _, wall2, _cpu2, stmts2 = await _timed(run_demo(settings, own_process=True))
            report, wall3, _cpu3, _s = await _timed(_report(settings))
        finally:
            if dbname:
                conn = await asyncpg.connect(pg_dsn)
                await conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
                await conn.close()
    return {
        "backend": backend,
        "seed": lines[1],
        "seed_wall_s": round(wall, 2),
        "seed_cpu_s": round(cpu, 2),
        "seed_statements": stmts,
        "docket_operations": operations,
        "docket_operations_per_s": round(operations / wall, 1),
        "rerun_wall_s": round(wall2, 2),
        "rerun_statements": stmts2,
        "report_wall_s": round(wall3, 3),
        "pretrial_share": str(report.pretrial_share),
        "pre_litigation_share": str(report.pre_litigation_share),
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = [asyncio.run(bench(b, args.pg_dsn)) for b in backends]
    write_result(results, args.json)


if __name__ == "__main__":
    main()
