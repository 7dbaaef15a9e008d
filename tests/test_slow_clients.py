"""Slow clients against a real served app (raw sockets), on both databases.

A client that trickles its headers or its body must cost the server a socket and nothing
else: no database transaction (on SQLite, no write lock) is opened for a request whose
body has not arrived, a body that does not arrive within ``body_read_timeout_seconds`` is
answered 408, and meanwhile ``/healthz`` and a logged-in request answer normally. The bounds
below are failure conditions (the server answered at all), not timings; the timings are in
``bench/slow_clients.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.settings import Settings
from tests.conftest import _base_settings
from tests.helpers import login, make_user

ANSWER_BOUND = 20.0  # seconds: "did not answer at all", never a performance target
BODY_TIMEOUT = 2.0
TRICKLE_EVERY = 0.25


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return _base_settings(tmp_path / "var", database_url, body_read_timeout_seconds=BODY_TIMEOUT)


class Trickler:
    """One raw connection that sends ``head`` at once and then ``drip`` one byte at a time."""

    def __init__(self, host: str, port: int, head: bytes, drip: bytes) -> None:
        self.host, self.port, self.head, self.drip = host, port, head, drip
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(self.head)
        await self.writer.drain()
        self.task = asyncio.create_task(self._drip())

    async def _drip(self) -> None:
        assert self.writer is not None
        with contextlib.suppress(ConnectionError, OSError):
            for i in range(len(self.drip)):
                self.writer.write(self.drip[i : i + 1])
                await self.writer.drain()
                await asyncio.sleep(TRICKLE_EVERY)

    async def status(self) -> int:
        """The status the server answered with (waits for it)."""
        assert self.reader is not None
        line = await self.reader.readline()
        assert line.startswith(b"HTTP/1.1 "), line
        return int(line.split()[1])

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


def slow_login_body(client: TestClient) -> Trickler:
    """The probe of finding 3: an anonymous form POST with a bogus session cookie and a
    100 kB body that arrives a byte at a time."""
    head = (
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Cookie: cl_session=bogus-session-key\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    return Trickler(client.host, client.port, head, b"u" * 100_000)


def slow_headers(client: TestClient) -> Trickler:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    return Trickler(client.host, client.port, head, b"a" * 100_000)


@contextlib.asynccontextmanager
async def trickling(conns: list[Trickler]) -> AsyncIterator[list[Trickler]]:
    try:
        await asyncio.gather(*(c.open() for c in conns))
        # Let the server take every request as far as it goes before its body is complete.
        await asyncio.sleep(3 * TRICKLE_EVERY)
        yield conns
    finally:
        await asyncio.gather(*(c.close() for c in conns))


async def answer(client: TestClient, path: str) -> int:
    resp = await asyncio.wait_for(client.get(path), ANSWER_BOUND)
    async with resp:
        await resp.read()
        return resp.status


async def logged_in(client: TestClient) -> TestClient:
    await make_user(client, "clerk1", "clerk")
    await login(client, "clerk1")
    return client


async def test_slow_anonymous_body_stalls_nobody(client):
    """Finding 3: the slow login POST once held SQLite's write lock while it waited for its
    body, so this GET timed out (500) and /healthz said 503."""
    await logged_in(client)
    async with trickling([slow_login_body(client)]) as (slow,):
        assert await answer(client, "/api/v1/cases") == 200
        assert await answer(client, "/healthz") == 200
        assert await asyncio.wait_for(slow.status(), ANSWER_BOUND) == 408


async def test_hundreds_of_slow_connections(client):
    """Item 6: 100 connections trickling headers and 100 trickling bodies leave /healthz and
    a logged-in request answering; the slow bodies get 408 once the read timeout passes."""
    await logged_in(client)
    bodies = [slow_login_body(client) for _ in range(100)]
    headers = [slow_headers(client) for _ in range(100)]
    async with trickling(bodies + headers):
        for _ in range(3):
            assert await answer(client, "/healthz") == 200
            assert await answer(client, "/api/v1/cases") == 200
        statuses = await asyncio.wait_for(
            asyncio.gather(*(c.status() for c in bodies)), ANSWER_BOUND
        )
        assert len(statuses) == 100
        assert set(statuses) == {408}
        # The header tricklers are still waiting (no request yet), and the server still answers.
        assert await answer(client, "/healthz") == 200


async def test_request_timeout_uses_error_model(client):
    head = (
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    async with trickling([Trickler(client.host, client.port, head, b" " * 1000)]) as (slow,):
        assert await asyncio.wait_for(slow.status(), ANSWER_BOUND) == 408
        assert slow.reader is not None
        head = await asyncio.wait_for(slow.reader.readuntil(b"\r\n\r\n"), ANSWER_BOUND)
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        body = await asyncio.wait_for(slow.reader.readexactly(length), ANSWER_BOUND)
        assert b'"code": "request_timeout"' in body or b'"code":"request_timeout"' in body
