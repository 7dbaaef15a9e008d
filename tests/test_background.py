"""One-off background work (``server.tasks.Background``): held until done though the loop holds
its tasks only weakly, a failure nobody awaits logged once by what it was, work that must run
to its end finished though its caller is cancelled, and a stop that waits for or cancels what
still runs; and no module of the product starts a task and drops it."""

from __future__ import annotations

import ast
import asyncio
import gc
import logging

import pytest

from server.tasks import Background
from tests.test_walls import project_modules


async def test_work_is_held_until_done_though_nothing_else_refers_to_it() -> None:
    work = Background("a test's work")
    finished = asyncio.Event()

    async def later() -> None:
        await asyncio.sleep(0.05)
        finished.set()

    work.spawn(later())  # the task itself is dropped here
    gc.collect()
    assert len(work) == 1
    await asyncio.wait_for(finished.wait(), 5)
    await work.wait()
    assert len(work) == 0 and not work


async def test_a_failure_nobody_awaits_is_logged_once_by_what_it_was(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = Background("mailing a receipt")

    async def fails() -> None:
        raise RuntimeError("no route to the mail server")

    with caplog.at_level(logging.ERROR, logger="server.tasks"):
        work.spawn(fails())
        await work.wait()
    failures = [r for r in caplog.records if "mailing a receipt" in r.getMessage()]
    assert len(failures) == 1, caplog.text
    assert failures[0].exc_info is not None
    assert "no route to the mail server" in str(failures[0].exc_info[1])


async def test_shielded_work_finishes_though_its_caller_is_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work = Background("a socket's take-down")
    release = asyncio.Event()
    done: list[str] = []

    async def take_down() -> None:
        await release.wait()
        done.append("taken down")

    caller = asyncio.create_task(work.shielded(take_down()))
    await asyncio.sleep(0)
    caller.cancel()  # as aiohttp cancels the handler of a socket that closed
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert len(work) == 1 and done == []
    release.set()
    await work.wait()
    assert done == ["taken down"]

    async def refused() -> None:
        raise ValueError("refused")

    # Its failure is its caller's to handle (a refused message becomes an error reply), not
    # an error in the log.
    with (
        caplog.at_level(logging.ERROR, logger="server.tasks"),
        pytest.raises(ValueError, match="refused"),
    ):
        await work.shielded(refused())
    assert not [r for r in caplog.records if r.name == "server.tasks"], caplog.text


async def test_a_stop_waits_only_so_long_then_cancels_what_is_late() -> None:
    work = Background("a receipt")
    started = asyncio.Event()

    async def never_ends() -> None:
        started.set()
        await asyncio.Event().wait()

    task = work.spawn(never_ends())
    await started.wait()
    await work.wait(at_most=0.05)  # returns though the work is not done
    assert not task.done() and len(work) == 1
    await work.cancel()
    assert task.cancelled() and len(work) == 0


def test_no_module_starts_a_task_and_drops_it() -> None:
    """A task started as a bare statement (``asyncio.create_task(...)`` with its result
    dropped) is held by nobody but the loop, weakly: it is the leak ``Background`` exists to
    prevent. Such work goes through a ``Background`` (or the ``Supervisor``) instead."""
    dropped = []
    for name, path in sorted(project_modules().items()):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                func = node.value.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in ("create_task", "ensure_future"):
                    dropped.append(f"{name}:{node.lineno}")
    assert dropped == [], dropped
