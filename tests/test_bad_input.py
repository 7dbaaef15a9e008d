"""Bad input anywhere in a URL or a body is a 4xx, never a 5xx or a dropped connection
(issue 12, finding 7): ids beyond the id column, dates beyond any calendar the court keeps,
JSON nested or numbered to break the decoder, control characters that would end up in a
header. Swept over every route of the table as an admin and anonymously, and nothing stored
changes."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, get_args

import pytest
from aiohttp.test_utils import TestClient
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from server.api.registry import API_PREFIX
from server.models.base import Base
from server.models.docket import Case
from server.pages import recording_pages, session_pages
from server.routes import API, PAGES
from server.sessions import create_session
from server.web.keys import SESSIONMAKER
from tests.helpers import audit_settled, csrf, login, make_user, unit

BAD_IDS = ["0", "2147483648", "99999999999999999999", "9" * 5000]
# Only routes whose parameter takes any text see these (the others answer 404 by pattern).
BAD_TEXT_IDS = ["-1", "1e5", "x", "٣"]
BAD_DAYS = ["9999-12-31", "0001-01-01", "99999-01-01", "2026-02-30", "9" * 5000]
# The query parameters each page reads (the API's are its operations' query models).
PAGE_QUERIES = {
    "/login": ("next",),
    "/cases": ("page", "assignee", "stage", "office", "overdue"),
    "/cases/due-soon": ("page",),
    "/schedule": ("office",),
    "/schedule/availability": ("date", "duration_minutes", "case_id", "office", "view"),
    "/schedule/my": ("host", "date"),
    "/schedule/center": ("date",),
    "/agreements": ("date_from", "date_to", "office", "stage", "signed"),
    "/reports": ("year", "office"),
    "/reports.csv": ("year", "office"),
    "/verify": ("code",),
    "/intake/track": ("code",),
}
PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def _routes() -> list[tuple[str, str, bool]]:
    """(method, path pattern, is_api) of every route in the table."""
    found = [(op.method, API_PREFIX + op.path, True) for router in API for op in router.operations]
    found += [(r.method, r.path, False) for r in PAGES]
    assert found
    return found


def _fill(pattern: str, name: str, value: str) -> str:
    """The pattern with ``name`` set to ``value`` and every other parameter to 1 (case 1,
    session 1 exist in the fixture, so the bad id is the one that is reached)."""

    def one(m: re.Match[str]) -> str:
        return value if m.group(1) == name else "1"

    return PARAM.sub(one, pattern)


def _probes() -> list[tuple[str, str, bool]]:
    out = []
    for method, pattern, is_api in _routes():
        for m in PARAM.finditer(pattern):
            name, regex = m.group(1), m.group(0)
            if not name.endswith("_id"):
                continue
            values = BAD_IDS if ":" in regex else BAD_IDS + BAD_TEXT_IDS
            out += [(method, _fill(pattern, name, v), is_api) for v in values]
    queries = [
        (API_PREFIX + op.path, list(op.query.model_fields))
        for router in API
        for op in router.operations
        if op.query is not None and "{" not in op.path
    ]
    queries += [(path, list(names)) for path, names in PAGE_QUERIES.items()]
    for path, names in queries:
        for name in names:
            for v in BAD_DAYS + BAD_IDS[2:]:
                out.append(("GET", f"{path}?{name}={v}", path.startswith(API_PREFIX)))
    return out


async def _snapshot(client: TestClient) -> dict[str, list[tuple[Any, ...]]]:
    # Audit rows get their place in the chain after they commit: compare them chained.
    await audit_settled(client.app)
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with client.app[SESSIONMAKER]() as db:
        for table in Base.metadata.sorted_tables:
            if table.name in ("web_sessions", "rate_events"):
                continue  # last_seen moves with every request; lookups are counted to throttle
            rows = (await db.execute(select(table))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def _seed(client: TestClient) -> None:
    admin = await make_user(client, "admin1", "admin")
    mediator = await make_user(client, "med1", "mediator")
    async with unit(client.app, admin) as ctx:
        office = admin.office_id
        case = Case(cause="民间借贷纠纷", office_id=office, mediator_id=mediator.id,
                    stage="pre_litigation_mediation")  # fmt: skip
        ctx.db.add(case)
        await ctx.db.flush()
    async with unit(client.app, mediator) as ctx:
        row = await ctx.db.get(Case, case.id)
        assert row is not None
        await create_session(ctx, row, kind="mediation")


async def _send(client: TestClient, method: str, path: str, is_api: bool) -> tuple[int, str, str]:
    kw: dict[str, Any] = {"allow_redirects": False}
    if method != "GET":
        token = csrf(client)
        if is_api:
            kw["json"] = {}
            kw["headers"] = {"X-CSRF-Token": token}
        else:
            kw["data"] = {"csrf_token": token}
    resp = await client.request(method, path, **kw)
    body = await resp.text()
    return resp.status, resp.content_type, body


@pytest.mark.parametrize("who", ["admin", "anonymous"])
async def test_no_bad_id_or_date_in_any_url_is_a_server_error(client: TestClient, who: str) -> None:
    await _seed(client)
    if who == "admin":
        await login(client, "admin1")
    else:
        await client.get("/login")  # a CSRF cookie, so the POSTs reach their handlers
    before = await _snapshot(client)
    probes = _probes()
    assert len(probes) > 100
    failures = []
    for method, path, is_api in probes:
        status, ctype, body = await _send(client, method, path, is_api)
        if path.startswith("/ws/"):
            continue  # test_the_websocket_route_bounds_its_id
        if who == "anonymous" and not is_api and status == 302:
            continue  # a page first asks for a login, before reading anything
        if not 400 <= status < 500 and not (status in (200, 302, 303) and "?" in path):
            failures.append(f"{method} {path[:120]} -> {status}")
        elif is_api and status >= 400 and (ctype != "application/json" or '"error"' not in body):
            failures.append(f"{method} {path[:120]} -> {status} {ctype} without the error shape")
    assert failures == [], "\n".join(failures)
    assert await _snapshot(client) == before


async def test_the_websocket_route_bounds_its_id(client: TestClient) -> None:
    await _seed(client)
    await login(client, "admin1")
    for value in BAD_IDS:
        resp = await client.get(f"/ws/sessions/{value}")
        assert 400 <= resp.status < 500, (value[:30], resp.status)


def _input_models() -> list[type[BaseModel]]:
    """Every model the API reads from outside (bodies and query strings), nested ones too."""
    seen: list[type[BaseModel]] = []
    todo = [m for router in API for op in router.operations for m in (op.body, op.query) if m]
    todo += [session_pages.OpenForm, session_pages.InviteForm]
    todo += [recording_pages.HoldForm, recording_pages.ActiveForm]
    assert todo
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for f in model.model_fields.values():
            for arg in _leaves(f.annotation):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    todo.append(arg)
    return seen


def _leaves(annotation: Any) -> list[Any]:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for a in args for leaf in _leaves(a)]


def _fields(kind: type) -> list[tuple[type[BaseModel], str]]:
    out = []
    for model in _input_models():
        for name, f in model.model_fields.items():
            leaves = _leaves(f.annotation)
            if kind is int and not name.endswith(("_id", "_ids")):
                continue
            if any(leaf is kind for leaf in leaves):
                out.append((model, name))
    return out


def _accepts(model: type[BaseModel], name: str, value: Any) -> bool:
    """Whether ``model`` takes ``value`` for field ``name`` (other fields' errors aside)."""
    try:
        model.model_validate({name: value})
    except ValidationError as exc:
        return not any(e["loc"][:1] == (name,) for e in exc.errors())
    return True


def test_every_id_field_of_an_input_model_is_bounded() -> None:
    fields = _fields(int)
    assert fields
    unbounded = []
    for model, name in fields:
        for value in (0, 2_147_483_648, 10**20, 1e20):
            if not _accepts(model, name, value):
                continue
            unbounded.append(f"{model.__name__}.{name} takes {value!r}")
    assert unbounded == [], "\n".join(unbounded)


@pytest.mark.parametrize("kind", [date, datetime])
def test_every_date_field_of_an_input_model_is_bounded(kind: type) -> None:
    values = {
        date: ["9999-12-31", "0001-01-01"],
        datetime: ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"],
    }[kind]
    fields = _fields(kind)
    assert fields
    unbounded = []
    for model, name in fields:
        for value in values:
            if not _accepts(model, name, value):
                continue
            unbounded.append(f"{model.__name__}.{name} takes {value!r}")
    assert unbounded == [], "\n".join(unbounded)


DEEP = b"[" * 2000 + b"]" * 2000
HUGE_NUMBER = b'{"username": ' + b"9" * 5000 + b', "password": "x"}'
JSON_BOMBS = [
    pytest.param(DEEP, id="2000-deep"),
    pytest.param(b'{"a":' * 50 + b"1" + b"}" * 50, id="50-deep-object"),
    pytest.param(HUGE_NUMBER, id="5000-digit-int"),
    pytest.param(b'{"username": 1e999, "password": "x"}', id="infinite-float"),
    pytest.param(b'{"username": NaN, "password": "x"}', id="nan"),
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("body", JSON_BOMBS)
@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/intake"])
async def test_json_beyond_the_limits_is_malformed_not_a_crash(
    client: TestClient, path: str, body: bytes
) -> None:
    await client.get("/login")
    resp = await client.post(
        path,
        data=body,
        headers={"Content-Type": "application/json", "X-CSRF-Token": csrf(client)},
    )
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"]["code"] == "malformed_json"


EXTREME_BOOKINGS = [
    pytest.param({"starts_at": "9999-12-31T23:59:59-12:00", "duration_minutes": 60}, id="9999"),
    pytest.param({"starts_at": "0001-01-01T00:00:00+14:00", "duration_minutes": 60}, id="0001"),
    pytest.param({"starts_at": "2030-01-07T09:00:00", "ends_at": "9999-12-31T23:59:59"},
                 id="end-9999"),
    pytest.param({"starts_at": "2030-01-07T09:00:00", "duration_minutes": 60, "host_id": 1e20},
                 id="host-1e20"),
    pytest.param({"starts_at": "2030-01-07T09:00:00", "duration_minutes": 60,
                  "host_id": 99999999999999999999}, id="host-20-digits"),
]  # fmt: skip


@pytest.mark.parametrize("body", EXTREME_BOOKINGS)
async def test_a_booking_at_the_ends_of_time_is_refused(
    client: TestClient, body: dict[str, Any]
) -> None:
    await _seed(client)
    await login(client, "admin1")
    before = await _snapshot(client)
    sends = [
        ("/api/v1/scheduling/bookings", {"case_id": 1, **body}),
        ("/api/v1/scheduling/bookings/1/move", {**body, "reason": "x"}),
    ]
    for path, json in sends:
        resp = await client.post(path, json=json, headers={"X-CSRF-Token": csrf(client)})
        assert resp.status == 422, (path, resp.status, await resp.text())
        fields = {d["field"] for d in (await resp.json())["error"]["details"]}
        assert fields & {"starts_at", "ends_at", "host_id"}, fields
    assert await _snapshot(client) == before
