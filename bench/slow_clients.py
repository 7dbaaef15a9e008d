"""Slow clients against ``courtlink serve``: does anyone else notice?

1. A fresh SQLite database (or PostgreSQL with ``--backend postgres``), migrated, one clerk
   added with ``courtlink user add``; ``courtlink serve`` in a subprocess (the production
   path: ``web.run_app`` and its defaults).
2. Baseline: ``/healthz`` and a logged-in ``GET /api/v1/cases``, ``--probes`` times each.
3. ``--slow`` raw connections trickle their request headers and ``--slow`` more trickle a
   form body (an anonymous ``POST /login`` with a bogus session cookie and
   ``Content-Length: 100000``, the probe of issue 12's finding 3), one byte every
   ``--every`` seconds; the same probes run again meanwhile.
4. How many slow bodies were answered 408 once ``--body-timeout`` passed, and how many
   header tricklers the server had closed by the end (``--hold 80`` waits for aiohttp's
   keep-alive timeout, 75 s under ``run_app``, which also bounds a request's headers).

    .venv/bin/python bench/slow_clients.py --json var/bench/slow_clients.json

Writes JSON: slow_connections, healthz_p95_ms, api_p95_ms (under the slow clients), the
baseline figures, body_408, header_closed, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
COURTLINK = str(ROOT / ".venv" / "bin" / "courtlink")
sys.path.insert(0, str(ROOT / "bench"))

from _client import free_port, percentile, wait_servers  # noqa: E402

PASSWORD = "bench-password-1"
BODY_HEAD = (
    b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Cookie: cl_session=bogus-session-key\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 100000\r\n\r\n"
)
HEADER_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class Slow:
    """One raw connection: ``head`` at once, then one byte every ``every`` seconds."""

    def __init__(self, port: int, head: bytes, every: float) -> None:
        self.port, self.head, self.every = port, head, every
        self.status: int | None = None
        self.answered = asyncio.Event()
        self.gone = asyncio.Event()
        self.closed_by_server = False
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer.write(self.head)
        await self._writer.drain()
        self._tasks = [asyncio.create_task(self._drip()), asyncio.create_task(self._read(reader))]

    async def _drip(self) -> None:
        assert self._writer is not None
        with contextlib.suppress(ConnectionError, OSError):
            while not self._writer.is_closing():
                await asyncio.sleep(self.every)
                self._writer.write(b"a")
                await self._writer.drain()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, OSError, ValueError):
            line = await reader.readline()
            if line.startswith(b"HTTP/1.1 "):
                self.status = int(line.split()[1])
                self.answered.set()
            while await reader.read(65536):
                pass
            self.closed_by_server = True
            self.gone.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()


async def probe(http: aiohttp.ClientSession, url: str, times: int) -> list[float]:
    took = []
    for _ in range(times):
        t0 = time.perf_counter()
        async with http.get(url) as resp:
            await resp.read()
            if resp.status != 200:
                raise SystemExit(f"{url} answered {resp.status}")
        took.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.05)
    return took


async def run(port: int, args: argparse.Namespace) -> dict[str, object]:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await (await http.get(f"{base}/login")).read()
        token = next(c.value for c in http.cookie_jar if c.key == "cl_csrf")
        form = {"username": "clerk1", "password": PASSWORD, "csrf_token": token}
        async with http.post(f"{base}/login", data=form, allow_redirects=False) as resp:
            if resp.status != 303:
                raise SystemExit(f"login answered {resp.status}")
        base_healthz = await probe(http, f"{base}/healthz", args.probes)
        base_api = await probe(http, f"{base}/api/v1/cases", args.probes)
        bodies = [Slow(port, BODY_HEAD, args.every) for _ in range(args.slow)]
        headers = [Slow(port, HEADER_HEAD, args.every) for _ in range(args.slow)]
        await asyncio.gather(*(c.open() for c in bodies + headers))
        t_open = time.perf_counter()
        try:
            await asyncio.sleep(2 * args.every)
            healthz = await probe(http, f"{base}/healthz", args.probes)
            api = await probe(http, f"{base}/api/v1/cases", args.probes)
            # Wait for every slow body's answer (the read timeout), with a margin.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(c.answered.wait() for c in bodies)), args.body_timeout + 15
                )
            after = await probe(http, f"{base}/healthz", 5)
            # aiohttp closes a connection whose request has not arrived keepalive_timeout
            # after it opened (run_app: 75 s), trickling or not: --hold shows it.
            rest = args.hold - (time.perf_counter() - t_open)
            if rest > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(*(c.gone.wait() for c in headers)), rest)
        finally:
            await asyncio.gather(*(c.close() for c in bodies + headers))
    return {
        "healthz_p95_ms": round(percentile(healthz, 95), 1),
        "api_p95_ms": round(percentile(api, 95), 1),
        "healthz_p50_ms": round(percentile(healthz, 50), 1),
        "api_p50_ms": round(percentile(api, 50), 1),
        "baseline_healthz_p95_ms": round(percentile(base_healthz, 95), 1),
        "baseline_api_p95_ms": round(percentile(base_api, 95), 1),
        "healthz_after_timeouts_p95_ms": round(percentile(after, 95), 1),
        "body_408": sum(1 for c in bodies if c.status == 408),
        "body_other": sorted({c.status for c in bodies if c.status not in (None, 408)}),
        "body_unanswered": sum(1 for c in bodies if c.status is None),
        "header_closed": sum(1 for c in headers if c.closed_by_server),
        "seconds_held": round(time.perf_counter() - t_open, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument(
        "--pg",
        default=os.environ.get("COURTLINK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    ap.add_argument("--slow", type=int, default=100, help="connections of each kind")
    ap.add_argument("--every", type=float, default=1.0, help="seconds between trickled bytes")
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--body-timeout", type=float, default=15.0)
    ap.add_argument("--hold", type=float, default=0.0, help="keep the header tricklers this long")
    ap.add_argument("--json", type=Path, default=ROOT / "var" / "bench" / "slow_clients.json")
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="cl-bench-slow-"))
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(data),
        "COURTLINK_SECRET_KEY": "bench",
        "COURTLINK_BODY_READ_TIMEOUT_SECONDS": str(args.body_timeout),
    }
    pg_name = ""
    if args.backend == "postgres":
        import asyncpg

        pg_name = f"cl_bench_slow_{os.getpid()}"

        async def pg(sql: str) -> None:
            conn = await asyncpg.connect(args.pg)
            try:
                await conn.execute(sql)
            finally:
                await conn.close()

        asyncio.run(pg(f"CREATE DATABASE {pg_name}"))
        env["COURTLINK_DATABASE_URL"] = (
            "postgresql+asyncpg://" + args.pg.split("://", 1)[1].rsplit("/", 1)[0] + "/" + pg_name
        )
    port = free_port()
    server = None
    try:
        subprocess.run([COURTLINK, "migrate"], env=env, cwd=data, check=True)
        subprocess.run(
            [COURTLINK, "user", "add", "clerk1", "--role", "clerk", "--office", "center",
             "--password", PASSWORD],
            env=env, cwd=data, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        log = open(data / "server.log", "w")  # noqa: SIM115
        server = subprocess.Popen(
            [COURTLINK, "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data,
        )  # fmt: skip
        asyncio.run(wait_servers([f"http://127.0.0.1:{port}"], [server], data / "server.log"))
        figures = asyncio.run(run(port, args))
        result = {
            "benchmark": "slow_clients",
            "backend": args.backend,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "slow_connections": 2 * args.slow,
            "slow_bodies": args.slow,
            "slow_headers": args.slow,
            "trickle_every_s": args.every,
            "body_read_timeout_s": args.body_timeout,
            **figures,
            "load_average": os.getloadavg(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        print(json.dumps(result, indent=2))
        return 0
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
        if pg_name:
            asyncio.run(pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


if __name__ == "__main__":
    sys.exit(main())
