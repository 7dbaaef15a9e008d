"""What the SIGKILL tests (``tests/test_kills*.py``) share.

``courtlink serve`` runs as a subprocess over the test's database and data directory
(``Server``; the recording, cluster and browser tests start their servers with it too). The
state before the kill is reached through the product's own operations (the in-process app
built by the factory, on the same database). Each kill waits for the event it
is aimed at, never for a time; after the restart the audit chain and the recordings verify.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
from _client import wait_up

from tests.agreement_helpers import share_fonts


def courtlink_environ(settings, **more: str) -> dict[str, str]:
    """The environment of a ``courtlink`` process on the data directory and database of
    ``settings`` (a test's), with ``more`` over it."""
    return {
        **os.environ,
        "COURTLINK_DATA_DIR": str(settings.data_dir),
        "COURTLINK_DATABASE_URL": settings.effective_database_url,
        # The test's in-process app shares the database: one court, one key (invite links
        # and audit checkpoints are signed with it).
        "COURTLINK_SECRET_KEY": settings.secret_key,
        **more,
    }


class Server:
    """``courtlink serve`` on ``port`` in a subprocess, its output in ``log``."""

    def __init__(self, settings, port: int, log: Path) -> None:
        self.settings, self.port, self.log = settings, port, log
        self.proc: asyncio.subprocess.Process | None = None
        self.env: dict[str, str] = {}  # more settings (a cluster node's)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self, **more: str) -> dict[str, str]:
        """The environment of a ``courtlink`` process on this server's data directory and
        database, with ``more`` and then the server's own ``env`` over it."""
        return courtlink_environ(self.settings, **{**more, **self.env})

    async def start(self) -> None:
        # The fonts every served process would otherwise make in the background (half a
        # minute of CPU each time, on a fresh data dir) are copied from the run's one set.
        await asyncio.to_thread(share_fonts, self.settings.data_dir / "fonts")
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).parent / "courtlink"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=self.environ(COURTLINK_PUBLIC_URL=self.url),
                stdout=out,
                stderr=out,
            )
        proc = self.proc
        async with aiohttp.ClientSession() as http:
            await wait_up(http, self.url, lambda: proc.returncode is not None, self.log)

    def log_tail(self) -> str:
        """The end of the server's log, for a failure's message (``wait_for``'s detail)."""
        return "log: " + self.log.read_text(errors="replace")[-3000:]

    async def kill(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), 60)


def run_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``courtlink`` command over the server's database and data directory."""
    exe = str(Path(sys.executable).parent / "courtlink")
    return subprocess.run(
        [exe, *args],
        env=server.environ(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def assert_verifies(server: Server) -> None:
    """The audit log and the recordings verify. Each command runs off the event loop: the
    test's own app (its audit sequencer) may be mid-transaction on the same SQLite file and
    needs the loop to finish it, or the command waits out the busy timeout ("database is
    locked", a clean-clone run)."""
    for args in (("audit", "verify"), ("recordings", "verify")):
        done = await asyncio.to_thread(run_cli, server, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
