"""Which tasks still hold one of an engine's database connections once its app has stopped.

A stop that leaves work running disposes the engine under that work's connection; the
connection then goes to the collector unclosed after the test's loop is gone, and the
warning (aiosqlite's "deleted before being closed") lands on whatever test runs the collector
next, naming nothing. Watching the pool names the task that held it, at the test that left it.

A connection first taken after the stop disposed of the engine is the same leak by another
door: it goes back to the fresh pool the dispose left, which nothing closes again, and is
collected unclosed with the engine. Where such a connection was opened is named too.
"""

from __future__ import annotations

import asyncio
import io
import traceback
import weakref
from pathlib import Path
from typing import Any

import greenlet
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

_PROJECT = str(Path(__file__).resolve().parent.parent)


def project_stack() -> str:
    """Where the caller is, in the project's own frames. Inside SQLAlchemy's greenlet the
    stack ends at the greenlet's start; the coroutines that awaited it (the handler, the
    worker) are on its parent's, so that one is walked on from where it waits."""
    frames = traceback.extract_stack()[:-1]
    parent = greenlet.getcurrent().parent
    if parent is not None and parent.gr_frame is not None:
        frames = traceback.extract_stack(parent.gr_frame) + frames
    return "".join(traceback.format_list([f for f in frames if _ours(f.filename)]))


def _ours(filename: str) -> bool:
    # Not this file's frames (the listener that asks): the project's, outside its venv.
    return filename.startswith(_PROJECT) and "/.venv/" not in filename and filename != __file__


class Checkouts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.held: dict[int, weakref.ref[asyncio.Task[Any]] | None] = {}
        # Where each connection opened since the engine was last disposed of was opened.
        self.opened: list[str] = []
        event.listen(engine.sync_engine, "checkout", self._out)
        event.listen(engine.sync_engine, "checkin", self._in)
        event.listen(engine.sync_engine, "connect", self._connected)
        event.listen(engine.sync_engine, "engine_disposed", self._disposed)

    def _connected(self, _dbapi_conn: Any, _record: Any) -> None:
        self.opened.append(project_stack())

    def _disposed(self, _engine: Any) -> None:
        self.opened.clear()

    # By the pool's record, not the driver's connection: one invalidated while out is checked
    # in as None.
    def _out(self, _dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        task = asyncio.current_task()
        self.held[id(record)] = None if task is None else weakref.ref(task)

    def _in(self, _dbapi_conn: Any, record: Any) -> None:
        self.held.pop(id(record), None)

    def check(self) -> None:
        """Fail, naming the holders, unless every connection is back (the app has stopped) and
        none was taken after the stop disposed of the engine."""
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
        # Disposing of the engine closed every connection then idle; one idle now was opened
        # after the stop, and nothing will close it.
        if self.engine.pool.checkedin():  # type: ignore[attr-defined]
            out.write("connections opened after the stop disposed of the engine, at:\n")
            out.write("\n".join(self.opened))
        return out.getvalue()
