"""Creating and changing user accounts: the one place the rules live, shared by
``courtlink user add``, the admin users API and the demo seed.

Rules: a username is 3–64 characters of letters, digits, ``.``, ``_`` or ``-`` and is unique;
the role is one of DESIGN.md's roles; the office is an existing office code; a password has at
least 10 characters. Every change is written to the audit log. An account is never deleted
(cases and the audit log name it): it is deactivated, which also ends its logins.
"""

from __future__ import annotations

import re
import sys

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import audit
from server.auth import hash_password
from server.context import Actor, Context, Court
from server.db import make_engine, make_sessionmaker
from server.errors import AppError, Conflict, Invalid, NotFound
from server.live_access import end_live_access
from server.models.accounts import ApiToken, Office, Role, User, WebSession
from server.settings import Settings

MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = tuple(r.value for r in Role)

# Exit codes of ``courtlink user add`` (argparse itself exits 2 on a malformed command line).
EXIT_OK, EXIT_INVALID, EXIT_EXISTS = 0, 2, 3


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            "the password is too short: at least {least} characters",
            code="weak_password",
            values={"least": MIN_PASSWORD},
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise Invalid(
            "unknown role {role!r}; one of {roles}",
            code="unknown_role",
            values={"role": role, "roles": list(ROLES)},
        )


def check_email(email: str | None) -> None:
    if email is not None and email != "" and not _EMAIL.match(email):
        raise Invalid("not an e-mail address: {email!r}", code="bad_email", values={"email": email})


async def office_by_code(ctx: Context, code: str, *, resource: bool = False) -> Office:
    """An office by its code. Where the office is the resource asked for (an office's
    schedule or facilities), an unknown code is 404 ``office_not_found``; where it is a value
    given for something else (a user's or a case's office), 422 ``unknown_office``, naming
    the codes there are."""
    office = await ctx.db.scalar(select(Office).where(Office.code == code))
    if office is None:
        if resource:
            raise NotFound(
                "no office with code {code!r}", code="office_not_found", values={"code": code}
            )
        codes = (await ctx.db.scalars(select(Office.code).order_by(Office.id))).all()
        raise Invalid(
            "office: unknown office {code!r}; one of {codes}",
            code="unknown_office",
            values={"code": code, "codes": list(codes)},
        )
    return office


async def add_user(
    ctx: Context,
    *,
    username: str,
    display_name: str,
    role: str,
    office_code: str,
    password: str,
    email: str | None = None,
    phone: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Create an active user in the caller's unit of work, audited as ``ctx.actor`` (the
    admin, ``cli`` or ``demo``). Raises Invalid or Conflict.

    ``password_hash``: an argon2 hash of ``password`` the caller already has (the demo gives
    its accounts that share a published password one hash, as argon2 is slow on purpose).
    """
    username = username.strip()
    if not _USERNAME.match(username):
        raise Invalid(
            "a username has 3 to 64 letters, digits, '.', '_' or '-'", code="bad_username"
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > 64:
        raise Invalid("a display name has 1 to 64 characters", code="bad_display_name")
    check_role(role)
    check_password(password)
    check_email(email)
    db = ctx.db
    office = await office_by_code(ctx, office_code)
    if await db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            "the username {username!r} is taken",
            code="username_taken",
            values={"username": username},
        )
    user = User(
        username=username,
        display_name=display_name,
        role=role,
        office_id=office.id,
        office=office,
        email=email or None,
        phone=phone or None,
        password_hash=password_hash or hash_password(password),
        active=True,
        created_at=ctx.now(),
    )
    db.add(user)
    await db.flush()
    await audit.record(
        ctx,
        "user.create",
        "user",
        user.id,
        username=username,
        role=role,
        office=office.code,
    )
    return user


async def update_user(
    ctx: Context,
    user: User,
    *,
    display_name: str | None = None,
    role: str | None = None,
    office_code: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    password: str | None = None,
    active: bool | None = None,
) -> User:
    """Change the given fields; ``None`` leaves a field as it is. Audited (never the password).

    An admin may not deactivate or demote their own account: an admin locking themselves
    out could leave the court with no admin at all.
    """
    demoted = active is False or role not in (None, Role.ADMIN)
    if demoted and ctx.actor.kind == "user" and ctx.actor.id == user.id:
        raise Conflict("you may not deactivate or demote yourself", code="self_lockout")
    db = ctx.db
    changed: dict[str, object] = {}
    if display_name is not None:
        display_name = display_name.strip()
        if not display_name or len(display_name) > 64:
            raise Invalid("a display name has 1 to 64 characters", code="bad_display_name")
        user.display_name = changed["display_name"] = display_name
    if role is not None:
        check_role(role)
        user.role = changed["role"] = role
    if office_code is not None:
        office = await office_by_code(ctx, office_code)
        user.office_id, user.office = office.id, office
        changed["office"] = office.code
    if email is not None:
        check_email(email)
        user.email = email or None
        changed["email"] = user.email
    if phone is not None:
        user.phone = changed["phone"] = phone or None
    if password is not None:
        check_password(password)
        user.password_hash = hash_password(password)
        changed["password"] = "changed"
        await _end_logins(db, user)
    if active is not None and active != user.active:
        user.active = changed["active"] = active
        if not active:
            await _end_logins(db, user)
            end_live_access(ctx, "deactivated", user_id=user.id)
    await db.flush()
    await audit.record(ctx, "user.update", "user", user.id, changed=changed)
    return user


async def _end_logins(db: AsyncSession, user: User) -> None:
    # A new password or a deactivation must not leave an old browser or API client logged in.
    await db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


async def add_user_cli(
    settings: Settings,
    username: str,
    display_name: str,
    role: str,
    office_code: str,
    password: str,
    email: str | None,
) -> int:
    """``courtlink user add``: the same ``add_user`` as the admin API, acting as ``cli``;
    print what happened, the exit code says how it went."""
    engine = make_engine(settings)
    court = Court.build(settings, make_sessionmaker(engine))
    try:
        async with court.unit(Actor.system("cli")) as ctx:
            user = await add_user(
                ctx,
                username=username,
                display_name=display_name,
                role=role,
                office_code=office_code,
                password=password,
                email=email,
            )
            office = user.office.code
    except AppError as exc:
        print(f"courtlink user add: {exc.message}", file=sys.stderr)
        return EXIT_EXISTS if isinstance(exc, Conflict) else EXIT_INVALID
    finally:
        await engine.dispose()
    print(f"added {role} {username!r} ({display_name}) at office {office}")
    return EXIT_OK
