"""The one way a test waits for something to happen: ``wait_for`` polls a condition until
it holds, and when it never does, says what was awaited and where every task was stuck (a
rare timeout under load is otherwise gone with the run)."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import Callable
from typing import Any


async def wait_for(
    condition: Callable[[], Any],
    within: float = 15.0,
    *,
    what: str | None = None,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` (a function, or an async one) until it gives a true value, and
    return that value. After ``within`` s, fail naming what was awaited (``what``, else the
    condition's name), with where every task of the loop waits and ``detail()`` (a server's
    log, say)."""
    deadline = time.monotonic() + within
    while True:
        found = condition()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return found
        if time.monotonic() > deadline:
            _print_tasks()
            name = what or getattr(condition, "__name__", repr(condition))
            extra = f"\n{detail()}" if detail is not None else ""
            raise AssertionError(f"timed out after {within} s waiting for {name}{extra}")
        await asyncio.sleep(0.05)


def _print_tasks() -> None:
    """Where every task of the loop waits, on stderr (shown with the failure): what a rare
    timeout under load was stuck behind is otherwise gone with the run."""
    for task in asyncio.all_tasks():
        print(f"--- {task.get_name()}", file=sys.stderr)
        for where in _awaiting(task.get_coro()):
            print(f"    {where}", file=sys.stderr)


def _awaiting(coro: object) -> list[str]:
    """The chain of awaits a suspended coroutine is in, outermost first (``print_stack``
    shows only the outermost frame, not what it waits on)."""
    chain: list[str] = []
    while coro is not None and len(chain) < 40:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        awaited = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if awaited is None:
            break
        if not hasattr(awaited, "cr_frame") and not hasattr(awaited, "gi_frame"):
            chain.append(f"awaits {awaited!r}"[:300])  # a future, a task: where it ends
            break
        coro = awaited
    return chain
