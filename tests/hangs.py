"""What a hung test was waiting for, in the run's own output.

pytest-timeout ends a test that runs past its limit (pyproject: 300 s, the thread method) by
ending its xdist worker, and xdist does not pass on what the dying worker printed: a CI run
then says only "worker crashed while running" a test. The event loop of a hung test idles in
its poll, so the thread stacks would say little anyway; what matters is which asyncio tasks
wait, and on what (a hang found earlier needed gdb on a live worker to see that).

So every test is watched: ``HANG_AFTER_S`` in, before the timeout, a thread writes every
thread's stack and every pending asyncio task's stack to a file under ``var/hangs``. The
controller empties the folder when the run starts and prints what it holds at the end.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HANG_AFTER_S = 240.0  # under the 300 s timeout: written before the worker is ended
HANGS = Path(__file__).resolve().parents[1] / "var" / "hangs"


def _write(path: Path, nodeid: str) -> None:
    with path.open("w") as out:
        out.write(f"{nodeid}: still running after {HANG_AFTER_S:.0f} s\n\n")
        faulthandler.dump_traceback(file=out, all_threads=True)
        out.write("\npending asyncio tasks:\n")
        for obj in gc.get_objects():
            if isinstance(obj, asyncio.Task) and not obj.done():
                out.write(f"\n{obj!r}\n")
                obj.print_stack(file=out)


@pytest.fixture(autouse=True)
def watch_for_hangs(request: pytest.FixtureRequest) -> Iterator[None]:
    """Arm the watch for this test, its fixtures' setup and teardown included."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    HANGS.mkdir(parents=True, exist_ok=True)
    path = HANGS / f"{worker}-{os.getpid()}-{abs(hash(request.node.nodeid))}.txt"
    timer = threading.Timer(HANG_AFTER_S, _write, (path, request.node.nodeid))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):  # the controller (or a run without xdist)
        shutil.rmtree(HANGS, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    found = sorted(HANGS.glob("*.txt")) if HANGS.is_dir() else []
    if not found:
        return
    terminalreporter.section("hung tests: threads and pending asyncio tasks")
    for path in found:
        terminalreporter.write_line(path.read_text()[-20_000:])
