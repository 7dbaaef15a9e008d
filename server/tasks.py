"""Background tasks in one place: start them, keep them running, stop them in time.

Every long-running worker (the outbox sender, the recordings' sealing sweep, composite
renders and retention) is an ``async def run()`` that loops until cancelled. The supervisor
starts each one, logs and restarts it with backoff when it fails or returns, and on shutdown
cancels them all and waits at most ``stop_timeout`` seconds, so a job stuck in the outside
world (an SMTP server that never answers) cannot hang the server's exit. A one-off job
(``once``: the CJK font the sealed PDFs embed, made when the server starts) is done when it
returns.

``Background`` is the other kind: one-off work an owner starts beside what it is doing (a
socket's take-down, a receipt mailed, a policy loaded) and must not lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

log = logging.getLogger(__name__)

Runner = Callable[[], Awaitable[None]]
T = TypeVar("T")


@dataclass
class TaskState:
    name: str
    runner: Runner
    restarts: int = 0
    last_error: str | None = None
    once: bool = False  # a job that is done when it returns (retried only when it fails)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()


class Supervisor:
    """Runs named workers for a process's lifetime (see the module docstring)."""

    def __init__(
        self,
        *,
        stop_timeout: float = 10.0,
        first_backoff: float = 1.0,
        max_backoff: float = 60.0,
        healthy_after: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.stop_timeout = stop_timeout
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        # A worker that ran this long before failing starts its backoff afresh.
        self.healthy_after = healthy_after
        self.tasks: dict[str, TaskState] = {}
        self._sleep = sleep  # a test watches the backoff without waiting for it

    def start(self, name: str, runner: Runner, *, once: bool = False) -> None:
        """Run ``runner`` until stopped; with ``once``, a job (preparing something ahead of
        its first use) that is done when it returns and is retried with backoff only when it
        fails."""
        if name in self.tasks and self.tasks[name].running:
            raise RuntimeError(f"task {name!r} is already running")
        state = TaskState(name, runner, once=once)
        state.task = asyncio.get_running_loop().create_task(self._keep(state), name=name)
        self.tasks[name] = state

    async def _keep(self, state: TaskState) -> None:
        delay = self.first_backoff
        while True:
            started = time.monotonic()
            try:
                await state.runner()
                if state.once:
                    state.last_error = None
                    return
                state.last_error = "returned"
                log.error("background task %s returned; restarting", state.name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                state.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("background task %s failed; restarting", state.name)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Stopped while the worker swallowed the cancel (it was deep in some
                # library): never restart what is being stopped.
                raise asyncio.CancelledError
            if time.monotonic() - started >= self.healthy_after:
                delay = self.first_backoff
            state.restarts += 1
            await self._sleep(delay)
            delay = min(delay * 2, self.max_backoff)

    async def stop_task(self, name: str) -> None:
        """Stop one worker now (before what it depends on is torn down)."""
        state = self.tasks.pop(name, None)
        if state is not None and state.task is not None:
            await self._cancel([state.task])

    async def stop(self) -> None:
        tasks = [s.task for s in self.tasks.values() if s.task is not None]
        self.tasks.clear()
        await self._cancel(tasks)

    async def _cancel(self, tasks: list[asyncio.Task[None]]) -> None:
        running = [t for t in tasks if not t.done()]
        for task in running:
            task.cancel()
        if not running:
            return
        done, pending = await asyncio.wait(running, timeout=self.stop_timeout)
        for task in pending:
            log.error("background task %s did not stop in time", task.get_name())
        for task in done:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()


def stop_if_cancelled() -> None:
    """Raise ``CancelledError`` if the running task was asked to stop.

    For a worker's retry loop to call where it catches the outside world's errors: redis-py
    can turn a cancellation that lands inside a connect into its own ``ConnectionError``, so
    the loop caught it, slept and tried again, and the node never exited (a CI run: two
    nodes lived on after SIGTERM once Redis had restarted, each "did not stop in time").
    The task still knows it was cancelled (``Task.cancelling``) when the error does not say.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Background:
    """One-off work an owner runs beside what it is doing, named by ``what`` for the log.

    The loop holds its tasks only weakly: a task nobody keeps can be collected mid-way, with
    the database connection or UDP sockets it holds left to the collector. So each task is
    held here until it is done. A failure that nobody awaits is logged once, as it happens,
    by what the work was. ``shielded`` work runs to its end even when its caller is cancelled
    (aiohttp cancels the handler of a socket that closed) and its failure is its caller's.
    The owner's stop waits for what still runs (``wait``), cancels it (``cancel``), or waits a
    while and then cancels what is left (``stop``).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._tasks: set[asyncio.Future[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        """Run ``work`` in the background; a failure is logged."""
        return self._start(work, self._done)

    async def shielded(self, work: Awaitable[T]) -> T:
        """Run ``work`` to its end whatever happens to the caller, and return its result."""
        return await asyncio.shield(self._start(work, self._tasks.discard))

    def _start(
        self, work: Awaitable[T], done: Callable[[asyncio.Future[Any]], object]
    ) -> asyncio.Future[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background work failed: %s", self.what, exc_info=exc)

    async def wait(self, at_most: float | None = None) -> None:
        """Until what runs now is done, or ``at_most`` seconds (no error then: a stop goes on
        with what it has); failures are not raised."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=at_most)

    async def stop(self, grace: float, at_most: float = 5.0) -> None:
        """Let what runs finish for ``grace`` seconds, then cancel the rest (``cancel``).

        A stop that only waited a while would go on with the work still running, and the
        database behind it would be disposed under the connection that work holds: the
        connection then went to the collector unclosed, after the loop was gone (a CI run's
        aiosqlite "deleted before being closed" at a browser test's end)."""
        await self.wait(at_most=grace)
        await self.cancel(at_most)

    async def cancel(self, at_most: float = 5.0) -> None:
        """Cancel what still runs and wait, ``at_most`` seconds, for it to go."""
        running = list(self._tasks)
        for task in running:
            task.cancel()
        if running:
            _done, late = await asyncio.wait(running, timeout=at_most)
            if late:
                log.error("background work did not stop in time: %s (%d)", self.what, len(late))
