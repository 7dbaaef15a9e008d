"""Booking throughput and availability latency on PostgreSQL, through the real server.

1. A fresh PostgreSQL database, migrated; 20 mediators, one office-staff account per street
   office (6), 6 mediation rooms at the center, 300 bookable cases per office.
2. 100,000 past bookings bulk-inserted (COPY) with their sessions and reservations: 15-minute
   sessions packed into the working blocks of the last three years' working days, every
   office's terminal busy, mediators and rooms in rotation.
3. ``courtlink serve`` in a subprocess (``--nodes N``: N of them on the one database, each
   client on one); 20 concurrent HTTP clients (bearer tokens, spread over
   the 6 offices) book 30-minute sessions with automatic mediator choice from tomorrow on;
   accepted bookings per second, refusals (409) and latency.
4. Availability (one office, one working week, 60 minutes, any mediator) asked N times:
   p50/p95 latency over HTTP, with the 100,000 past bookings in the tables.

    .venv/bin/python bench/booking.py --json var/bench/booking.json

The database is dropped afterwards unless ``--keep``. Slots follow the server's own working
calendar (``server.workdays``: provisional for a year no official schedule covers yet), so
bookings run past New Year.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _client import bearer, free_port, percentile, wait_servers  # noqa: E402

from server.agreements import fonts  # noqa: E402
from server.auth import hash_password  # noqa: E402
from server.migrate import upgrade  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.workdays import WorkCalendar  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar(None)  # the server's, with no admin year files
PASSWORD = "bench-password-1"
BLOCKS = ((8, 30, 12, 0), (14, 30, 17, 30))


async def seed(dsn: str, past: int, cases_per_office: int) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    t0 = time.perf_counter()
    try:
        offices = await conn.fetch("SELECT id, code, is_center FROM offices ORDER BY id")
        center = next(r["id"] for r in offices if r["is_center"])
        streets = [r for r in offices if not r["is_center"]]
        # Six rooms at the center, so the six offices can all sit at once.
        existing = await conn.fetchval("SELECT count(*) FROM sched_facilities WHERE kind='room'")
        for n in range(existing + 1, 7):
            await conn.execute(
                "INSERT INTO sched_facilities (kind, office_id, name, active) "
                "VALUES ('room', $1, $2, true)",
                center,
                f"调解室 {n}",
            )
        rooms = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM sched_facilities WHERE kind='room' ORDER BY id"
            )
        ]
        terminals = {
            r["office_id"]: r["id"]
            for r in await conn.fetch(
                "SELECT id, office_id FROM sched_facilities WHERE kind='terminal'"
            )
        }
        pw = hash_password(PASSWORD)
        now = datetime.now(UTC)
        mediators = []
        for n in range(20):
            mediators.append(
                await conn.fetchval(
                    "INSERT INTO users (username, display_name, role, office_id, password_hash, "
                    "active, created_at) VALUES ($1,$2,'mediator',$3,$4,true,$5) RETURNING id",
                    f"bench_med{n}",
                    f"调解员{n}",
                    center,
                    pw,
                    now,
                )
            )
        staff = {}
        for office in streets:
            staff[office["id"]] = f"bench_staff_{office['code']}"
            await conn.execute(
                "INSERT INTO users (username, display_name, role, office_id, password_hash, "
                "active, created_at) VALUES ($1,$1,'office_staff',$2,$3,true,$4)",
                staff[office["id"]],
                office["id"],
                pw,
                now,
            )
        cases: dict[int, list[int]] = {}
        for office in streets:
            ids = []
            for n in range(cases_per_office):
                cid = await conn.fetchval(
                    "INSERT INTO cases (cause, facts, claim_fen, stage, source, office_id, "
                    "created_at, updated_at, stage_entered_at, was_pre_litigation, was_filed, "
                    "version) VALUES ('民间借贷纠纷','',0,'pre_litigation_mediation','court',"
                    "$1,$2,$2,$2,true,false,1) RETURNING id",
                    office["id"],
                    now,
                )
                for side in ("applicant", "respondent"):
                    pid = await conn.fetchval(
                        "INSERT INTO parties (case_id, side, kind, name, email) "
                        "VALUES ($1,$2,'person',$3,$4) RETURNING id",
                        cid,
                        side,
                        f"当事人{n}{side[0]}",
                        f"p{cid}{side[0]}@example.cn",
                    )
                    await conn.execute(
                        "INSERT INTO consents (case_id, party_id, consents, recorded_at, note) "
                        "VALUES ($1,$2,true,$3,'')",
                        cid,
                        pid,
                        now,
                    )
                ids.append(cid)
            cases[office["id"]] = ids
        seeded = time.perf_counter() - t0
        t1 = time.perf_counter()
        await _past(conn, past, streets, terminals, rooms, mediators, cases, staff)
        loaded = time.perf_counter() - t1
        await conn.execute("ANALYZE")
        return {
            "seed_s": round(seeded, 1),
            "past_bulk_insert_s": round(loaded, 1),
            "staff": list(staff.values()),
            "offices": [o["code"] for o in streets],
        }
    finally:
        await conn.close()


async def _past(conn, count, streets, terminals, rooms, mediators, cases, staff) -> None:  # type: ignore[no-untyped-def]
    """``count`` 15-minute bookings going back from yesterday, every office in every slot."""
    staff_ids = {
        oid: await conn.fetchval("SELECT id FROM users WHERE username=$1", name)
        for oid, name in staff.items()
    }
    next_session = (await conn.fetchval("SELECT coalesce(max(id),0) FROM mediation_sessions")) + 1
    next_booking = (await conn.fetchval("SELECT coalesce(max(id),0) FROM bookings")) + 1
    sessions, bookings, reservations = [], [], []
    day = date.today() - timedelta(days=1)
    made, slot_no = 0, 0
    created = datetime.now(UTC)
    while made < count:
        if CALENDAR.is_workday(day):
            for h1, m1, h2, m2 in BLOCKS:
                t = datetime(day.year, day.month, day.day, h1, m1, tzinfo=TZ)
                stop = datetime(day.year, day.month, day.day, h2, m2, tzinfo=TZ)
                while t + timedelta(minutes=15) <= stop and made < count:
                    end = t + timedelta(minutes=15)
                    for n, office in enumerate(streets):
                        if made >= count:
                            break
                        oid = office["id"]
                        mediator = mediators[(slot_no * 6 + n) % len(mediators)]
                        room = rooms[n % len(rooms)]
                        case_id = cases[oid][slot_no % len(cases[oid])]
                        sid, bid = next_session, next_booking
                        next_session += 1
                        next_booking += 1
                        sessions.append(
                            (
                                sid,
                                case_id,
                                "mediation",
                                "ended",
                                mediator,
                                oid,
                                t,
                                end,
                                True,
                                staff_ids[oid],
                                created,
                            )
                        )
                        bookings.append(
                            (
                                bid,
                                case_id,
                                oid,
                                sid,
                                "mediation",
                                mediator,
                                room,
                                terminals[oid],
                                t,
                                end,
                                "active",
                                f"bench-{bid}-{secrets.token_hex(4)}@courtlink",
                                0,
                                "",
                                staff_ids[oid],
                                created,
                                created,
                            )
                        )
                        for res in (
                            f"mediator:{mediator}",
                            f"room:{room}",
                            f"terminal:{terminals[oid]}",
                            f"case:{case_id}",
                        ):
                            reservations.append((bid, res, t, end, True))
                        made += 1
                    slot_no += 1
                    t = end
        day -= timedelta(days=1)
    await conn.copy_records_to_table(
        "mediation_sessions",
        records=sessions,
        columns=[
            "id",
            "case_id",
            "kind",
            "status",
            "host_id",
            "office_id",
            "starts_at",
            "ends_at",
            "record_caucus",
            "created_by_id",
            "created_at",
        ],
    )
    await conn.copy_records_to_table(
        "bookings",
        records=bookings,
        columns=[
            "id",
            "case_id",
            "office_id",
            "session_id",
            "kind",
            "host_id",
            "room_id",
            "terminal_id",
            "starts_at",
            "ends_at",
            "status",
            "uid",
            "sequence",
            "note",
            "created_by_id",
            "created_at",
            "updated_at",
        ],
    )
    await conn.copy_records_to_table(
        "reservations",
        records=reservations,
        columns=["booking_id", "resource", "starts_at", "ends_at", "active"],
    )
    for table in ("mediation_sessions", "bookings"):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def _future_slots(first: date, minutes: int):  # type: ignore[no-untyped-def]
    """Working-day slot starts from ``first`` on, on the server's calendar."""
    day = first
    while True:
        if CALENDAR.is_workday(day):
            for h1, m1, h2, m2 in BLOCKS:
                t = datetime(day.year, day.month, day.day, h1, m1, tzinfo=TZ)
                stop = datetime(day.year, day.month, day.day, h2, m2, tzinfo=TZ)
                while t + timedelta(minutes=minutes) <= stop:
                    yield t
                    t += timedelta(minutes=minutes)
        day += timedelta(days=1)


async def log_in(bases: list[str], staff: list[str], clients: int) -> list[str]:
    """One bearer token per client, from the node it will book through (argon2 at the
    product's cost, ~0.2 s of server CPU each: before the booking's CPU is measured, as it is
    no part of a booking)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        return [
            await bearer(http, bases[i % len(bases)], staff[i % len(staff)], PASSWORD)
            for i in range(clients)
        ]


async def throughput(
    bases: list[str],
    dsn: str,
    staff: list[str],
    tokens: list[str],
    attempts: int,
    minutes: int,
) -> tuple[dict[str, object], dict[int, tuple[int, float]]]:
    """The booking figures, and for each accepted booking its session's id and when its
    201 arrived (what the audit delay is measured from)."""
    clients = len(tokens)
    conn = await asyncpg.connect(dsn)
    case_rows = await conn.fetch(
        "SELECT c.id, o.code FROM cases c JOIN offices o ON o.id=c.office_id "
        "WHERE c.stage='pre_litigation_mediation' ORDER BY c.id"
    )
    await conn.close()
    by_office: dict[str, list[int]] = {}
    for row in case_rows:
        by_office.setdefault(row["code"], []).append(row["id"])
    first = date.today() + timedelta(days=1)
    # One shared slot stream per office: clients of one office take turns at its terminal.
    streams = {code: _future_slots(first, minutes) for code in by_office}
    case_turn = {code: 0 for code in by_office}
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    # booking id: (its session's id, when its 201 arrived): the commit came just before
    answered: dict[int, tuple[int, float]] = {}
    remaining = [attempts]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:

        async def client(i: int) -> None:
            code = staff[i % len(staff)].removeprefix("bench_staff_")
            headers = {"Authorization": f"Bearer {tokens[i]}"}
            base = bases[i % len(bases)]  # clients spread over the nodes
            while remaining[0] > 0:
                remaining[0] -= 1
                start = next(streams[code])
                cases = by_office[code]
                case_id = cases[case_turn[code] % len(cases)]
                case_turn[code] += 1
                body = {
                    "case_id": case_id,
                    "starts_at": start.isoformat(),
                    "duration_minutes": minutes,
                }
                t0 = time.perf_counter()
                async with http.post(
                    base + "/api/v1/scheduling/bookings", json=body, headers=headers
                ) as resp:
                    answer = await resp.read()
                    latencies.append(time.perf_counter() - t0)
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1
                    if resp.status == 201:
                        out = json.loads(answer)
                        answered[out["id"]] = (out["session_id"], time.time())

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    figures: dict[str, object] = {
        "clients": clients,
        "attempts": attempts,
        "wall_s": round(wall, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "accepted_per_s": round(statuses.get(201, 0) / wall, 1),
        "latency_ms_p50": round(percentile(latencies, 50) * 1000, 1),
        "latency_ms_p95": round(percentile(latencies, 95) * 1000, 1),
    }
    return figures, answered


async def availability(base: str, staff: str, rounds: int) -> dict[str, object]:
    code = staff.removeprefix("bench_staff_")
    latencies: list[float] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await bearer(http, base, staff, PASSWORD)
        headers = {"Authorization": f"Bearer {token}"}
        monday = date.today() + timedelta(days=7 - date.today().weekday())
        for n in range(rounds):
            start = monday + timedelta(days=7 * (n % 4))
            params = {
                "office": code,
                "start": start.isoformat(),
                "end": (start + timedelta(days=4)).isoformat(),
                "duration_minutes": "60",
            }
            t0 = time.perf_counter()
            async with http.get(
                base + "/api/v1/scheduling/availability", params=params, headers=headers
            ) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            latencies.append(time.perf_counter() - t0)
    return {
        "rounds": rounds,
        "days_per_query": 5,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 95) * 1000, 1),
    }


async def _audit_figures(
    dsn: str, accepted: int, answered: dict[int, tuple[int, float]]
) -> dict[str, object]:
    """How long the run's audit rows waited to be chained, and how many a booking writes.

    Two delays: from ``at`` (written when the row was recorded, early in its booking's
    transaction, so it includes the rest of that transaction) and from the commit, which the
    issue bounds. The commit's moment is taken as when the booking's 201 reached the bench:
    the server commits, then answers; the booking's own row and its session's rows (the
    session, the invites) are the ones that can be told apart."""
    await asyncio.sleep(2)  # the sequencer's last pass
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE seq IS NULL) AS waiting,"
            " percentile_cont(0.95) WITHIN GROUP"
            " (ORDER BY extract(epoch FROM chained_at - at)) AS p95,"
            " max(extract(epoch FROM chained_at - at)) AS longest"
            " FROM audit_log"
        )
        by_session = {session: booking for booking, (session, _t) in answered.items()}
        chained = await conn.fetch(
            "SELECT object_type, object_id, extract(epoch FROM chained_at) AS chained"
            " FROM audit_log WHERE (object_type = 'booking' AND object_id = ANY($1::text[]))"
            " OR (object_type = 'session' AND object_id = ANY($2::text[]))",
            [str(b) for b in answered],
            [str(s) for s in by_session],
        )
    finally:
        await conn.close()
    after_commit = []
    for found in chained:
        booking = int(found["object_id"])
        if found["object_type"] == "session":
            booking = by_session[booking]
        after_commit.append(max(0.0, float(found["chained"]) - answered[booking][1]))
    return {
        "audit_rows_per_booking": round(row["n"] / max(1, accepted), 1),
        "audit_waiting_after_2s": row["waiting"],
        "audit_chain_delay_ms_p95": round(float(row["p95"] or 0) * 1000, 1),
        "audit_chain_delay_ms_max": round(float(row["longest"] or 0) * 1000, 1),
        "audit_rows_timed_from_commit": len(after_commit),
        "audit_chained_after_commit_ms_p95": round(percentile(after_commit or [0.0], 95) * 1000, 1),
        "audit_chained_after_commit_ms_max": round(max(after_commit, default=0) * 1000, 1),
    }


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process on this machine so far, with the exited
    backends the postmaster has reaped: the database's side of a booking when it runs here
    (its own backends serve only the bench while it runs)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # the process ended meanwhile
        if "(postgres)" not in text:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get("COURTLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--past", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "booking.json")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="`courtlink serve` processes on the one database, the clients spread over them",
    )
    parser.add_argument(
        "--profile", type=Path, help="run the (first) server under cProfile, its stats to this file"
    )
    args = parser.parse_args()
    name = f"cl_bench_booking_{os.getpid()}"
    host = args.pg.rsplit("/", 1)[0]
    dsn = f"{host}/{name}"
    admin = args.pg

    async def pg(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(pg(f"CREATE DATABASE {name}"))
    data = Path(tempfile.mkdtemp(prefix="cl-bench-booking-"))
    (data / "calendar").mkdir()  # no admin year files: the official or provisional calendar
    # The document font, made once per checkout as `make fonts` does: a fresh data directory
    # would have the server make it in a child process during the run, ~35 s of CPU beside it.
    font_cache = ROOT / "var" / "fonts"
    if not fonts.is_prepared(font_cache):
        print("preparing the document fonts once (make fonts) ...", flush=True)
        fonts.prepare(font_cache)
    (data / "fonts").symlink_to(font_cache, target_is_directory=True)
    url = "postgresql+asyncpg://" + dsn.split("://", 1)[1]
    ports = [free_port() for _ in range(args.nodes)]
    env = {
        **os.environ,
        "COURTLINK_DATABASE_URL": url,
        "COURTLINK_DATA_DIR": str(data),
        "COURTLINK_SECRET_KEY": "bench",
        "COURTLINK_CALENDAR_DIR": str(data / "calendar"),
    }
    servers: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(Settings(_env_file=None, database_url=url, data_dir=data))  # type: ignore[call-arg]
        print(f"seeding {args.past} past bookings ...", flush=True)
        seeded = asyncio.run(seed(dsn, args.past, 300))
        log = open(data / "server.log", "w")  # noqa: SIM115
        python = str(ROOT / ".venv" / "bin" / "python")
        profiled = ["-m", "cProfile", "-o", str(args.profile.resolve())] if args.profile else []
        for node, port in enumerate(ports):
            servers.append(
                subprocess.Popen(
                    [python, *(profiled if node == 0 else []), "-m", "server.cli", "serve",
                     "--port", str(port)],
                    env={**env, "COURTLINK_NODE_ID": f"bench-{node}"},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=data,
                )
            )  # fmt: skip
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        asyncio.run(wait_servers(bases, servers, data / "server.log"))
        staff = list(seeded["staff"])  # type: ignore[call-overload]
        print("booking ...", flush=True)
        tokens = asyncio.run(log_in(bases, staff, args.clients))

        def servers_cpu() -> float:
            return sum(_cpu_s(server.pid) for server in servers)

        cpu_before, db_cpu_before = servers_cpu(), _database_cpu_s()
        booked, answered = asyncio.run(
            throughput(bases, dsn, staff, tokens, args.attempts, args.minutes)
        )
        # What one booking costs the servers, whatever the machine's load: their CPU time.
        accepted = int(booked["statuses"].get("201", 0))  # type: ignore[attr-defined]
        booked["nodes"] = args.nodes
        booked["server_cpu_ms_per_booking"] = round(
            (servers_cpu() - cpu_before) * 1000 / max(1, accepted), 1
        )
        booked["database_cpu_ms_per_booking"] = round(
            (_database_cpu_s() - db_cpu_before) * 1000 / max(1, accepted), 1
        )
        booked.update(asyncio.run(_audit_figures(dsn, accepted, answered)))
        print(json.dumps(booked), flush=True)
        print("availability ...", flush=True)
        avail = asyncio.run(availability(bases[0], staff[0], args.rounds))
        result = {
            "benchmark": "booking",
            "backend": "postgresql",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": os.getloadavg(),
            "past_bookings": args.past,
            "mediators": 20,
            "offices": 6,
            "rooms": 6,
            "seed": {k: v for k, v in seeded.items() if k.endswith("_s")},
            "booking": booked,
            "availability": avail,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(30)
        if not args.keep:
            asyncio.run(pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
