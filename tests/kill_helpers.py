"""What the SIGKILL tests (``tests/test_kills*.py``) share.

``courtlink serve`` runs as a subprocess over the test's database and data directory (the
``Server`` of ``tests/test_recording_crash.py``, which also covers the kill during a
recording). The state before the kill is reached through the product's own operations (the
in-process app built by the factory, on the same database). Each kill waits for the event it
is aimed at, never for a time; after the restart the audit chain and the recordings verify.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.test_recording_crash import Server


def run_cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``courtlink`` command over the server's database and data directory."""
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(server.settings.data_dir),
        "COURTLINK_DATABASE_URL": server.settings.effective_database_url,
        "COURTLINK_SECRET_KEY": server.settings.secret_key,  # the server's own key
    }
    exe = str(Path(sys.executable).parent / "courtlink")
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def assert_verifies(server: Server) -> None:
    for args in (("audit", "verify"), ("recordings", "verify")):
        done = run_cli(server, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


async def wait_until(predicate: Any, what: str, server: Server, tries: int = 3000) -> None:
    """Poll ``predicate`` (an async callable) until it holds: waiting for an event."""
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}; log: {server.log.read_text()[-3000:]}")
