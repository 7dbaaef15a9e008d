"""``POST /api/v1/auth/token``: trade a username and password for a bearer token."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from server.api.registry import ApiRouter
from server.auth import authenticate, issue_token
from server.web.auth import require_user
from server.web.http import json_ok, read_json
from server.web.keys import CTX

api = ApiRouter("auth")


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime


class MeOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    office: str


@api.route(
    "POST",
    "/auth/token",
    name="api_auth_token",
    summary="Get a bearer token",
    body=TokenRequest,
    response=TokenOut,
    status=201,
    public=True,
    errors=(401, 429),
)
async def create_token(request: web.Request) -> web.Response:
    body = await read_json(request, TokenRequest)
    ctx = request[CTX]
    user = await authenticate(ctx, body.username, body.password)
    token, expires = await issue_token(ctx, user)
    return json_ok(TokenOut(token=token, expires_at=expires).model_dump(mode="json"), 201)


@api.route("GET", "/auth/me", name="api_auth_me", summary="Who the caller is", response=MeOut)
async def me(request: web.Request) -> web.Response:
    user = require_user(request)
    out = MeOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        office=user.office.code,
    )
    return json_ok(out.model_dump())
