"""What every benchmark's HTTP client needs from a courtlink server it started: a free port
to serve it on, a bearer token from the real token endpoint, and percentiles of what it
timed."""

from __future__ import annotations

import socket

import aiohttp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
