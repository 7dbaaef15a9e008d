"""The unit-of-work context every domain function takes, and the actor it acts for.

The domain never sees a web request. The web layer (one middleware), the CLI, the demo seeder
and every background worker build the same ``Context``: a database session, who is acting,
the settings, the working calendar, the clock, and hooks to run after the commit. They build
it from one ``Court`` value (the long-lived services), so "as of a date" is one clock swap
and a mail wake-up after commit is one named signal (``Context.signal_after_commit``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.errors import Forbidden, Unauthorized
from server.models.base import utcnow
from server.settings import Settings
from server.workdays import WorkCalendar

if TYPE_CHECKING:
    from server.models.accounts import User
    from server.models.docket import Party

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
ActorKind = Literal["user", "party", "system", "anonymous"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: an account, a party through an invite link, the system, or nobody.

    ``audit_name`` is the one way the audit log names an actor: ``user:<id>:<username>``,
    ``party:<id>``, ``anonymous``, or a system actor's own name (``system``, ``cli``, ``demo``).
    """

    kind: ActorKind
    id: int | None = None
    name: str = ""
    role: str | None = None
    office_id: int | None = None
    address: str | None = None
    user: User | None = field(default=None, compare=False, repr=False)
    party: Party | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_user(cls, user: User, address: str | None = None) -> Actor:
        return cls(
            "user",
            user.id,
            user.username,
            str(user.role),
            user.office_id,
            address,
            user=user,
        )

    @classmethod
    def for_party(cls, party: Party, address: str | None = None) -> Actor:
        return cls("party", party.id, party.name, None, None, address, party=party)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", None, name)

    @classmethod
    def anonymous(cls, address: str | None = None) -> Actor:
        return cls("anonymous", None, "anonymous", address=address)

    @property
    def audit_name(self) -> str:
        if self.kind == "user":
            return f"user:{self.id}:{self.name}"
        if self.kind == "party":
            return f"party:{self.id}"
        return self.name or self.kind


class Signals:
    """Named wake-ups for background workers ("outbox", "composite", ...).

    A worker registers a callback under its name at start; the domain asks for the signal
    after its commit (``Context.signal_after_commit``). An unregistered name is a no-op: the
    CLI has no sender running, and the mail then waits in the outbox as designed. A signal
    may carry values (``access_ended`` says whose live connection to end); the callback is
    called with them.
    """

    def __init__(self) -> None:
        self._callbacks: dict[str, Callable[..., None]] = {}

    def register(self, name: str, callback: Callable[..., None]) -> None:
        self._callbacks[name] = callback

    def unregister(self, name: str) -> None:
        self._callbacks.pop(name, None)

    def fire(self, name: str, *args: Hashable) -> None:
        callback = self._callbacks.get(name)
        if callback is not None:
            callback(*args)


@dataclass
class Context:
    """One unit of work: a session, the actor, and the court's services for this change."""

    db: AsyncSession
    actor: Actor
    settings: Settings
    calendar: WorkCalendar
    clock: Clock = utcnow
    signals: Signals = field(default_factory=Signals)
    hooks: list[Callable[[], None]] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        return self.settings.tz

    @property
    def user(self) -> User | None:
        return self.actor.user

    def now(self) -> datetime:
        """Now, in UTC whatever zone the clock answers in: stored times and the audit
        chain's hashes are UTC, and a clock set to court time must not change them."""
        return self.clock().astimezone(UTC)

    def today(self) -> date:
        """The court-local date now (not UTC's: a case filed at 07:00 Beijing time is today)."""
        return self.now().astimezone(self.settings.tz).date()

    def require_user(self) -> User:
        user = self.actor.user
        if user is None:
            raise Unauthorized("login required")
        return user

    def require_role(self, *roles: str) -> User:
        user = self.require_user()
        if user.role not in roles:
            raise Forbidden("your role may not do this")
        return user

    def acting_as(self, actor: Actor) -> Context:
        """The same unit of work for another actor (hooks are shared, so they still run)."""
        return replace(self, actor=actor)

    def after_commit(self, hook: Callable[[], None]) -> None:
        self.hooks.append(hook)

    def signal_after_commit(self, name: str, *args: Hashable) -> None:
        """Wake a background worker once this unit of work has committed, never before: a
        worker woken earlier would look for rows it cannot see yet. The same signal with
        the same values is sent once per unit of work."""
        if (name, args) not in self._pending_signals():
            self.hooks.append(_SignalHook(self.signals, name, args))

    def _pending_signals(self) -> set[tuple[str, tuple[Hashable, ...]]]:
        return {(h.name, h.args) for h in self.hooks if isinstance(h, _SignalHook)}

    def run_after_commit(self) -> None:
        hooks, self.hooks[:] = list(self.hooks), []
        for hook in hooks:
            try:
                hook()
            except Exception:  # a failed wake-up must not fail a change that is committed
                log.exception("after-commit hook failed")

    def discard_hooks(self) -> None:
        self.hooks.clear()


@dataclass(frozen=True, slots=True)
class _SignalHook:
    signals: Signals
    name: str
    args: tuple[Hashable, ...] = ()

    def __call__(self) -> None:
        self.signals.fire(self.name, *self.args)


@dataclass
class Court:
    """The long-lived services every unit of work is built from: built once by the app
    factory, the CLI and the benchmarks alike."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    calendar: WorkCalendar
    clock: Clock = utcnow
    signals: Signals = field(default_factory=Signals)

    @classmethod
    def build(cls, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Court:
        return cls(settings, sessionmaker, make_calendar(settings), make_clock(settings))

    def context(self, db: AsyncSession, actor: Actor) -> Context:
        return Context(db, actor, self.settings, self.calendar, self.clock, self.signals)

    @asynccontextmanager
    async def unit(self, actor: Actor | None = None) -> AsyncIterator[Context]:
        """A unit of work outside a request: committed when the block ends, rolled back when
        it raises; after-commit hooks run only after a commit."""
        async with self.sessionmaker() as db:
            ctx = self.context(db, actor or Actor.system())
            try:
                yield ctx
                await db.commit()
            except BaseException:
                await db.rollback()
                ctx.discard_hooks()
                raise
        ctx.run_after_commit()


def make_calendar(settings: Settings) -> WorkCalendar:
    return WorkCalendar(settings.calendar_dir or settings.data_dir / "calendar")


def make_clock(settings: Settings) -> Clock:
    """The court's clock: the real one, or with ``settings.today`` (``--today``) that day at
    the real time of day in the court's zone, running on from there (a fixed offset from the
    real clock, so time never stands still or jumps back at midnight)."""
    if settings.today is None:
        return utcnow
    real = utcnow()
    local = real.astimezone(settings.tz)
    shift = datetime.combine(settings.today, local.time(), settings.tz).astimezone(UTC) - real
    return lambda: utcnow() + shift
