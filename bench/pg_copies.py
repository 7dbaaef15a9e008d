"""What a test's PostgreSQL database costs: ``CREATE DATABASE ... TEMPLATE`` of the migrated
template, then ``DROP DATABASE``, by each of PostgreSQL 15's copy strategies.

    python bench/pg_copies.py --json var/bench/pg_copies.json
    python bench/pg_copies.py --copies 20 --rounds 2 --pg-dsn postgresql://postgres@127.0.0.1:5432/test

The suite makes one copy per PostgreSQL test (``tests/conftest.copy_of``). Per database and
strategy: the wall time of the create, of the create and the drop, the CPU the PostgreSQL
processes and the kernel's block-device workers spent (read by psutil: the server is
local), and the CPU the whole machine was busy. Rounds alternate the strategies, so a drift of
the machine falls on both. The figures are bench/README.md's; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import write_result

from server.migrate import upgrade
from server.settings import Settings

STRATEGIES = ("WAL_LOG", "FILE_COPY")
# What besides the server's own processes does its disk work: the kernel's block workers.
_SERVER_SIDE = ("postgres", "kworker", "jbd2")


def _server_cpu_s() -> float:
    """CPU seconds of every live process named like the server or a kernel disk worker."""
    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        times = proc.info["cpu_times"]  # None for a process gone meanwhile
        if (proc.info["name"] or "").startswith(_SERVER_SIDE) and times is not None:
            total += times.user + times.system
    return total


def _busy_cpu_s() -> float:
    """CPU seconds the whole machine was busy since boot (all but idle and iowait)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - times.iowait)


async def _one_round(
    conn: asyncpg.Connection, template: str, strategy: str, n: int
) -> dict[str, float]:
    names = [f"bench_copy_{strategy.lower()}_{i}" for i in range(n)]
    server, busy, started = _server_cpu_s(), _busy_cpu_s(), time.perf_counter()
    for name in names:
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY {strategy}")
    created = time.perf_counter()
    for name in names:
        await conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    done = time.perf_counter()
    return {
        "create_ms": (created - started) / n * 1000,
        "create_and_drop_ms": (done - started) / n * 1000,
        "server_cpu_ms": (_server_cpu_s() - server) / n * 1000,
        "busy_cpu_ms": (_busy_cpu_s() - busy) / n * 1000,
    }


async def run(dsn: str, copies: int, rounds: int) -> dict[str, Any]:
    host = dsn.rsplit("/", 1)[0]
    template = f"bench_copy_tmpl_{os.getpid()}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE DATABASE {template}")
        with tempfile.TemporaryDirectory() as data:
            url = f"postgresql+asyncpg://{host.split('://', 1)[1]}/{template}"
            settings = Settings(data_dir=Path(data), database_url=url)
            await asyncio.to_thread(upgrade, settings)  # Alembic runs its own loop
        size = await conn.fetchval("SELECT pg_database_size($1)", template)
        results: dict[str, list[dict[str, float]]] = {s: [] for s in STRATEGIES}
        for _ in range(rounds):
            for strategy in STRATEGIES:
                results[strategy].append(await _one_round(conn, template, strategy, copies))
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
        await conn.close()
    return {
        "copies_per_round": copies,
        "template_bytes": size,
        "load_average": os.getloadavg(),
        "strategies": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--copies", type=int, default=20, help="databases per round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each strategy")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    figures = asyncio.run(run(args.pg_dsn, args.copies, args.rounds))
    write_result(figures, args.json)


if __name__ == "__main__":
    main()
