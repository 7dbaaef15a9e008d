"""What every benchmark's HTTP client needs from a courtlink server it started: a free port
to serve it on, the wait until it answers, a bearer token from the real token endpoint, and
percentiles of what it timed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp

_PORTS_GIVEN: set[tuple[int, int]] = set()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port (TCP, or UDP with ``socket.SOCK_DGRAM``) free on the loopback now, for a server
    a bench or a test starts; never the same one twice in a process. The kernel may hand a
    port just closed out again at once: a CI run's three cluster nodes got one port for two of
    them, and the second died on bind while its health check reached the first."""
    while True:
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if (kind, port) not in _PORTS_GIVEN:
            _PORTS_GIVEN.add((kind, port))
            return port


async def wait_up(
    http: aiohttp.ClientSession, base: str, exited: Callable[[], bool], log: Path
) -> None:
    """Wait (up to 5 minutes: a first start prepares fonts) until the server at ``base``
    answers ``/healthz``; if its process ``exited`` first, fail with the end of its ``log``."""
    for _ in range(3000):
        if exited():
            tail = await asyncio.to_thread(log.read_text)
            raise RuntimeError(f"{base} exited: {tail[-2000:]}")
        try:
            async with http.get(base + "/healthz") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    tail = await asyncio.to_thread(log.read_text)
    raise RuntimeError(f"{base} never answered: {tail[-2000:]}")


async def wait_servers(
    bases: Sequence[str], servers: Sequence[subprocess.Popen[bytes]], log: Path
) -> None:
    """Every server the bench started answering, or the bench fails with the end of their
    ``log``: one ``courtlink serve`` process per base address, in the same order."""
    async with aiohttp.ClientSession() as http:
        for base, server in zip(bases, servers, strict=True):
            await wait_up(http, base, lambda s=server: s.poll() is not None, log)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``th percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bearer(http: aiohttp.ClientSession, base: str, username: str, password: str) -> str:
    """A bearer token for ``username``: the token endpoint asks for the CSRF pair, so the
    login page is fetched first; the cookies are dropped afterwards so only the token
    speaks for the client."""
    async with http.get(base + "/login") as resp:
        await resp.read()
    csrf = next(c.value for c in http.cookie_jar if c.key == "cl_csrf")
    async with http.post(
        base + "/api/v1/auth/token",
        headers={"X-CSRF-Token": csrf},
        json={"username": username, "password": password},
    ) as resp:
        assert resp.status == 201, await resp.text()
        token: str = (await resp.json())["token"]
    http.cookie_jar.clear()
    return token
