"""Which test left a SQLite connection open when it ended.

An aiosqlite connection nobody closed is found only when the collector takes it, and its
warning ("deleted before being closed") then fails whichever test is running at that
moment, naming nothing: a CI run saw one at the teardown of a Firefox test that had opened
none itself. ``Checkouts`` covers an app's pool; this covers every connection, however made
(an engine a test forgot to dispose of, a stop that left work behind, a fixture's own).

Each connection made during a test is noted (weakly: noting never keeps one alive), and when
the test's last fixture is down, one still open fails that test by name, with where it was
opened. A connection whose close is already queued to its thread counts as closed.
"""

from __future__ import annotations

import weakref
from typing import Any

import aiosqlite

from tests.checkouts import project_stack

_opened: list[tuple[weakref.ref[aiosqlite.Connection], str]] = []
_original_init = aiosqlite.Connection.__init__


def _noting_init(self: aiosqlite.Connection, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    # Kept as text: the frames themselves would keep their locals alive.
    _opened.append((weakref.ref(self), project_stack()))


def watch() -> None:
    """Note every aiosqlite connection made from now on (once per process)."""
    aiosqlite.Connection.__init__ = _noting_init  # type: ignore[method-assign]


def left_open() -> list[str]:
    """Where each connection made since the last call, and still open, was opened; forgets
    them all (a test is blamed for its own connections only)."""
    found = []
    for ref, where in _opened:
        conn = ref()
        # ``_running`` is cleared when the close is queued (``stop``), before the thread runs it.
        if conn is not None and conn._connection is not None and conn._running:
            found.append(where)
    _opened.clear()
    return found
