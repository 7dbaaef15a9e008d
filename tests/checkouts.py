"""Which tasks still hold one of an engine's database connections once its app has stopped.

A stop that leaves work running disposes the engine under that work's connection; the
connection then goes to the collector unclosed after the test's loop is gone, and the
warning (aiosqlite's "deleted before being closed") lands on whatever test runs the collector
next, naming nothing. Watching the pool names the task that held it, at the test that left it.
"""

from __future__ import annotations

import asyncio
import io
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class Checkouts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.held: dict[int, weakref.ref[asyncio.Task[Any]] | None] = {}
        event.listen(engine.sync_engine, "checkout", self._out)
        event.listen(engine.sync_engine, "checkin", self._in)

    # By the pool's record, not the driver's connection: one invalidated while out is checked
    # in as None.
    def _out(self, _dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        task = asyncio.current_task()
        self.held[id(record)] = None if task is None else weakref.ref(task)

    def _in(self, _dbapi_conn: Any, record: Any) -> None:
        self.held.pop(id(record), None)

    def check(self) -> None:
        """Fail, naming the holders, unless every connection is back (the app has stopped)."""
        left = self.report()
        assert not left, f"the app stopped with database connections still held:\n{left}"

    def report(self) -> str:
        """Empty when every connection is back; else each holder and where it waits now."""
        out = io.StringIO()
        for ref in self.held.values():
            task = None if ref is None else ref()
            if task is None:
                out.write("a connection held by a task that is gone\n")
            else:
                out.write(f"a connection held by task {task.get_name()}:\n")
                task.print_stack(limit=30, file=out)
        return out.getvalue()
