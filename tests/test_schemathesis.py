"""schemathesis against ``/api/v1/openapi.json``: every role and anonymous, on SQLite and
PostgreSQL, no 5xx and every answer as the document says (status, content type, body).

The server is the real app from its factory, on a database seeded once per backend the way a
court would fill it: ``courtlink demo`` (accounts and a year of cases), then through the API a
booking (with its session and invites), an extra session with an invite, and a draft agreement.
Each test copies that database, serves the app on a real socket and runs schemathesis in a
worker thread (its client is blocking) with a fixed seed, positive and negative inputs.

CI-sized by default (``FUZZ_EXAMPLES`` examples per operation and mode); ``make fuzz`` runs
the same with many more and writes its figures to ``bench/results/fuzz-*.json``.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import os
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Config, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.openapi import from_dict, media_type
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from server.app import create_app
from server.demo import run_demo
from server.demo_data import USERS
from tests.conftest import _RUN_ID, PG_HOST_URL, _base_settings, _counter, _pg_exec, copy_of

pytestmark = [pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
SEEDED_IDS = 300
FIGURES = os.environ.get("FUZZ_FIGURES", "")  # a directory: write one JSON per test there
PASSWORDS = {username: password for username, _r, _o, _n, password in USERS}
ROLES = {
    "anonymous": None,
    "admin": "admin",
    "clerk": "clerk",
    "judge": "judge",
    "mediator": "mediator",
    "office_staff": "staff.shaping",
}
# Uploads to /verify: anything, and things that start like a PDF.
media_type(
    "application/pdf",
    st.one_of(st.binary(max_size=4096), st.binary(max_size=4096).map(b"%PDF-1.7\n".__add__)),
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# -- seeding, once per backend ---------------------------------------------------------------


class Api:
    """Bearer-token calls on a served app, as an API client would make them."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.tokens: dict[str, str] = {}

    async def token(self, username: str) -> str:
        if username not in self.tokens:
            resp = await self.call(
                None,
                "POST",
                "/auth/token",
                json={"username": username, "password": PASSWORDS[username]},
            )
            self.tokens[username] = resp["token"]
        return self.tokens[username]

    async def call(self, username: str | None, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {await self.token(username)}"} if username else {}
        async with (
            aiohttp.ClientSession() as http,  # no cookies: bearer calls only
            http.request(
                method, self.server.make_url("/api/v1" + path), headers=headers, **kw
            ) as resp,
        ):
            body = await resp.json() if resp.content_type == "application/json" else None
            assert resp.status < 300, (method, path, resp.status, body)
            return body


async def _seed_extras(api: Api) -> None:
    """A booking, a session with an invite and a draft agreement, through the API."""
    waiting = await api.call("clerk", "GET", "/scheduling/waiting")
    ready = [w for w in waiting if w["consent_complete"]]
    assert ready, waiting
    case_id, office = ready[0]["case_id"], ready[0]["office"]
    start = date.today() + timedelta(days=1)
    query = {"office": office, "start": start.isoformat()}
    query["end"] = (start + timedelta(days=20)).isoformat()
    found = await api.call("clerk", "GET", "/scheduling/availability", params=query)
    slots = [s for d in found["days"] for s in d["slots"]]
    assert slots, found
    body = {"case_id": case_id, "starts_at": slots[0]["starts_at"], "duration_minutes": 60}
    booking = await api.call("clerk", "POST", "/scheduling/bookings", json=body)
    assert booking["invites"], booking
    case = await api.call("mediator", "GET", f"/cases/{case_id}")
    session = await api.call("clerk", "POST", f"/cases/{case_id}/sessions", json={})
    await api.call(
        "clerk",
        "POST",
        f"/sessions/{session['id']}/invites",
        json={"party_id": case["parties"][0]["id"]},
    )
    side = {p["side"]: p["id"] for p in case["parties"]}
    duty = {"obligor_party_id": side["respondent"], "obligee_party_id": side["applicant"]}
    duty |= {"action": "pay", "description": "借款", "amount_fen": 5_000_000}
    duty |= {"due_date": (start + timedelta(days=60)).isoformat(), "method": "bank_transfer"}
    terms = {"obligations": [duty], "clauses": ["双方就本纠纷再无其他争议。"]}
    await api.call("mediator", "POST", f"/cases/{case_id}/agreement", json={"terms": terms})


async def _seed(settings: Any) -> None:
    await run_demo(settings)
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        await _seed_extras(Api(server))
    finally:
        await server.close()


@pytest.fixture(scope="session")
def seeded_sqlite(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-seed")
    shutil.copyfile(sqlite_template, base / "courtlink.sqlite3")
    asyncio.run(_seed(_base_settings(base, f"sqlite+aiosqlite:///{base / 'courtlink.sqlite3'}")))
    return base / "courtlink.sqlite3"


@pytest.fixture(scope="session")
def seeded_pg(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    name = f"{_RUN_ID}_fuzzseed"
    asyncio.run(_pg_exec(copy_of(pg_template, name)))
    url = f"postgresql+asyncpg://{PG_HOST_URL.split('://', 1)[1]}/{name}"
    asyncio.run(_seed(_base_settings(tmp_path_factory.mktemp("fuzz-seed-pg"), url)))
    return name  # dropped with the run's other databases


@pytest.fixture
def fuzz_settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    data = tmp_path / "var"
    data.mkdir()
    if backend == "sqlite":
        shutil.copyfile(request.getfixturevalue("seeded_sqlite"), data / "courtlink.sqlite3")
        return _base_settings(data, f"sqlite+aiosqlite:///{data / 'courtlink.sqlite3'}")
    name = f"{_RUN_ID}_{next(_counter)}"
    asyncio.run(_pg_exec(copy_of(request.getfixturevalue("seeded_pg"), name)))
    return _base_settings(data, f"postgresql+asyncpg://{PG_HOST_URL.split('://', 1)[1]}/{name}")


@pytest.fixture
async def served(fuzz_settings: Any) -> AsyncIterator[TestServer]:
    server = TestServer(create_app(fuzz_settings))
    await server.start_server()
    yield server
    await server.close()


# -- the fuzz run --------------------------------------------------------------------------


@dataclass
class Run:
    operations: int = 0
    examples: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _draw(operation: Any, mode: GenerationMode, drawn: Examples) -> None:
    """The operation's examples in this mode, as hypothesis draws them with the fixed seed."""
    label = f"{operation.label} [{mode.value}]"

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        drawn.cases.append((label, case))

    try:
        one()
    except Exception as exc:  # a strategy that cannot generate for this mode: say so
        if type(exc).__name__ not in ("Unsatisfiable", "FailedHealthCheck"):
            drawn.errors.append(f"{label} {exc!r}")


def _seeded_ids(document: dict[str, Any]) -> dict[str, Any]:
    """The document with path ids drawn from the seeded range (the demo has a few hundred
    rows a table), so valid inputs reach real cases, bookings and sessions; the negative
    run keeps the document as served, so it still sends ids beyond the column's range."""
    doc = copy.deepcopy(document)
    for ops in doc["paths"].values():
        for op in ops.values():
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["schema"].get("type") == "integer":
                    param["schema"]["maximum"] = SEEDED_IDS
    return doc


@dataclass
class Examples:
    """What the fuzz sends, drawn once: with the fixed seed and no shrinking (no example
    fails inside hypothesis), the draws never depend on the server's answers, so every role
    and both databases get the same requests whether drawn once or once per test; drawing
    was about two thirds of each test's CPU."""

    operations: int = 0
    cases: list[tuple[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@functools.cache
def _examples(document_json: str) -> Examples:
    document = json.loads(document_json)
    config = Config.from_dict(
        {"generation": {"with-security-parameters": False, "deterministic": True}}
    )
    schemas = {
        GenerationMode.POSITIVE: from_dict(_seeded_ids(document), config=config),
        GenerationMode.NEGATIVE: from_dict(document, config=config),
    }
    drawn = Examples()
    for mode, schema in schemas.items():
        for result in schema.get_all_operations():
            drawn.operations += mode == GenerationMode.POSITIVE
            _draw(result.ok(), mode, drawn)
    return drawn


def _fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> Run:
    drawn = _examples(json.dumps(document, sort_keys=True))
    run = Run(operations=drawn.operations, failures=list(drawn.errors))
    seen: set[tuple[str, str]] = set()  # one report per operation and kind of failure
    with requests.Session() as http:
        for label, case in drawn.cases:
            http.cookies.clear()  # every call is as the role alone, never a page session
            response = case.call(base_url=base_url, session=http, headers=headers, timeout=60)
            run.examples += 1
            status = str(response.status_code)
            run.statuses[status] = run.statuses.get(status, 0) + 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except FailureGroup as exc:
                text = str(exc).strip()
                kind = text.splitlines()[0] if text else ""
                if (label, kind) not in seen:
                    seen.add((label, kind))
                    run.failures.append(f"{label}\n{text[:4000]}")
    return run


def _write_figures(backend: str, role: str, run: Run, seconds: float) -> None:
    out = Path(FIGURES)
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "backend": backend,
        "role": role,
        "operations": run.operations,
        "examples_per_operation_and_mode": EXAMPLES,
        "examples": run.examples,
        "statuses": dict(sorted(run.statuses.items())),
        "failures": len(run.failures),
        "seconds": round(seconds, 1),
        "seed": SEED,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "failure_text": run.failures,
    }
    (out / f"fuzz-{backend}-{role}.json").write_text(json.dumps(figures, indent=1))


@pytest.mark.parametrize("role", list(ROLES))
async def test_api_answers_as_documented(served: TestServer, role: str, backend: str) -> None:
    base_url = str(served.make_url("")).rstrip("/")
    headers: dict[str, str] = {}
    username = ROLES[role]
    if username is not None:
        headers["Authorization"] = f"Bearer {await Api(served).token(username)}"
    document = await requests_get_json(base_url + "/api/v1/openapi.json")
    assert document["paths"]
    started = time.monotonic()
    run = await asyncio.to_thread(_fuzz, document, base_url, headers)
    if FIGURES:
        await asyncio.to_thread(_write_figures, backend, role, run, time.monotonic() - started)
    assert run.operations > 0 and run.examples > 0
    assert not run.failures, "\n\n".join(run.failures)


async def requests_get_json(url: str) -> dict[str, Any]:
    def get() -> dict[str, Any]:
        resp = requests.get(url, timeout=30)
        resp.raise_for_status()
        doc: dict[str, Any] = resp.json()
        return doc

    return await asyncio.to_thread(get)


# -- what the fuzz found, pinned -------------------------------------------------------------


async def test_nul_in_text_is_refused_not_a_database_error(client: Any) -> None:
    """PostgreSQL's text cannot hold NUL: a NUL in any JSON string or query value was a 500
    there (intake, parties, the agreements filter); it is refused as invalid input."""
    from tests.helpers import api_token, make_user

    await make_user(client, "fuzz_clerk", "clerk")
    auth = {"Authorization": f"Bearer {await api_token(client, 'fuzz_clerk')}"}
    intake = {
        "office": "shaping",
        "cause": "民间借贷纠纷",
        "facts": "借款未还",
        "consent_to_mediate": True,
        "applicant": {"name": "张\u0000三", "phone": "13800000001", "address": "幸福路1号"},
        "respondent": {"name": "李四"},
    }
    answers = [
        await client.post("/api/v1/intake", json=intake),
        await client.get("/api/v1/agreements?stage=a%00b", headers=auth),
        await client.get("/api/v1/cases?q=a%00b", headers=auth),
    ]
    for resp in answers:
        body = await resp.json()
        assert resp.status == 422, body
        assert body["error"]["code"] == "nul_character", body
    # In a path: a verification code that no seal could have is not looked up at all.
    resp = await client.get("/api/v1/verify/A%00B")
    assert resp.status == 404, await resp.text()
    assert (await resp.json())["error"]["code"] == "unknown_code"
