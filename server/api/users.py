"""The admin's users API: list, create, read, update and deactivate accounts.

Only admins may use it; everyone reads their own profile at ``GET /api/v1/auth/me``. The
rules (username, role, office, password strength) are in ``server.accounts``.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from server import accounts
from server.access import can_manage_users
from server.api.registry import ApiRouter
from server.errors import Forbidden, NotFound, parse_model
from server.models.accounts import Office, User
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX
from server.web.params import path_id

api = ApiRouter("users")


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    office: str
    email: str | None
    phone: str | None
    active: bool
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=64)
    display_name: str = Field(min_length=1, max_length=64)
    role: str = Field(description="judge, mediator, clerk, office_staff or admin")
    office: str = Field(description="office code, e.g. center or shaping")
    password: str = Field(min_length=1, max_length=256)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=64)
    role: str | None = None
    office: str | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    active: bool | None = None


class UserQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office: str | None = Field(default=None, description="office code")
    role: str | None = None
    active: bool | None = None


def user_out(user: User) -> dict[str, object]:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        office=user.office.code,
        email=user.email,
        phone=user.phone,
        active=user.active,
        created_at=user.created_at,
    ).model_dump(mode="json")


def _admin(request: web.Request) -> None:
    if not can_manage_users(require_user(request)):
        raise Forbidden("your role may not do this")


async def _load(request: web.Request) -> User:
    user_id = path_id(request, "user_id")
    user = await request[CTX].db.get(User, user_id)
    if user is None:
        raise NotFound("user {id} not found", code="user_not_found", values={"id": user_id})
    return user


@api.route(
    "GET", "/users", name="api_users", summary="List users (admin)", query=UserQuery,
    response=UserOut, response_list=True, errors=(422,),
)  # fmt: skip
async def list_users(request: web.Request) -> web.Response:
    _admin(request)
    q = parse_model(UserQuery, dict(request.query))
    stmt = select(User).order_by(User.id)
    if q.office is not None:
        stmt = stmt.join(Office, User.office_id == Office.id).where(Office.code == q.office)
    if q.role is not None:
        stmt = stmt.where(User.role == q.role)
    if q.active is not None:
        stmt = stmt.where(User.active == q.active)
    users = (await request[CTX].db.scalars(stmt)).unique().all()
    return json_ok([user_out(u) for u in users])


@api.route(
    "POST", "/users", name="api_users_create", summary="Create a user (admin)", body=UserCreate,
    response=UserOut, status=201, errors=(409,),
)  # fmt: skip
async def create_user(request: web.Request) -> web.Response:
    _admin(request)
    body = await read_json(request, UserCreate)
    user = await accounts.add_user(
        request[CTX],
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        office_code=body.office,
        password=body.password,
        email=body.email,
        phone=body.phone,
    )
    return json_ok(user_out(user), 201)


@api.route(
    "GET", r"/users/{user_id:\d+}", name="api_user", summary="One user (admin)",
    response=UserOut, errors=(404,),
)  # fmt: skip
async def get_user(request: web.Request) -> web.Response:
    _admin(request)
    return json_ok(user_out(await _load(request)))


@api.route(
    "PATCH", r"/users/{user_id:\d+}", name="api_user_update", summary="Change a user (admin)",
    body=UserUpdate, response=UserOut, errors=(404, 409),
)  # fmt: skip
async def update_user(request: web.Request) -> web.Response:
    _admin(request)
    body = await read_json(request, UserUpdate)
    user = await _load(request)
    await accounts.update_user(
        request[CTX],
        user,
        display_name=body.display_name,
        role=body.role,
        office_code=body.office,
        email=body.email,
        phone=body.phone,
        password=body.password,
        active=body.active,
    )
    return json_ok(user_out(user))


@api.route(
    "DELETE", r"/users/{user_id:\d+}", name="api_user_deactivate",
    summary="Deactivate a user (admin); accounts are never deleted", response=UserOut,
    errors=(404, 409),
)  # fmt: skip
async def deactivate_user(request: web.Request) -> web.Response:
    _admin(request)
    user = await _load(request)
    await accounts.update_user(request[CTX], user, active=False)
    return json_ok(user_out(user))
