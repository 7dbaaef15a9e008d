"""One cache of compiled SQL for every engine of the process.

SQLAlchemy compiles each distinct statement once per engine and keeps the result in that
engine's own cache, keyed by the engine's dialect *object*. The server makes one engine and
pays this once; but a process that makes many engines over its life (the test suite makes
one per test, the CLI and the benches one per command) compiled the same ORM statements
again for each: measured on the suite, about half the CPU of the database tests went to
compiling SQL that an earlier engine had already compiled (``bench/README.md``, "Compiled
SQL shared across engines").

Compiled SQL depends on the dialect's kind and on what it learned of its server when it
first connected, not on which engine holds it: so this cache keys each statement by the
dialect's class, the server's version and the options that change the SQL text, instead of
the dialect object. Two engines on the same kind of database share every entry; an engine
on another kind, or another server version, has its own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import LRUCache

# SQLAlchemy keeps 500 per engine; this one serves both databases' statements, and a test
# process runs all of the application's.
SIZE = 4000


def _dialect_key(dialect: Dialect) -> tuple[Any, ...]:
    return (
        type(dialect),
        dialect.server_version_info,
        dialect.paramstyle,
        dialect.label_length,
        dialect.max_identifier_length,
        dialect.default_schema_name,
    )


class SharedCompiledCache:
    """What SQLAlchemy asks of an engine's compiled cache (``get`` and item assignment),
    with the dialect object in its key replaced by what the compiled SQL depends on."""

    def __init__(self, size: int = SIZE) -> None:
        self._entries: LRUCache[tuple[Any, ...], Any] = LRUCache(size)

    @staticmethod
    def _key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        # SQLAlchemy's key: (dialect, the statement's cache key, column keys, ...).
        return (_dialect_key(key[0]), *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self._entries.get(self._key(key), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        self._entries[self._key(key)] = value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:  # ``Engine.clear_compiled_cache``
        self._entries.clear()


PROCESS_CACHE = SharedCompiledCache()


def share(engine: AsyncEngine) -> AsyncEngine:
    """Make ``engine`` compile into, and reuse from, the process's one cache."""
    engine.sync_engine._compiled_cache = PROCESS_CACHE  # type: ignore[assignment]
    return engine
