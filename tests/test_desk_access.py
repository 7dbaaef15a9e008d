"""Who may use each duty-desk route (issue 17 part 1): every role, the calling office and
another office, a party's invitation link, and nobody logged in. Another office's call is
not found (404); a role that may not act is refused (403) before anything of a call is
read; anonymous callers and a party's link (no account) are asked to log in (401)."""

from __future__ import annotations

import pytest

from server.desk import calls
from server.desk.roster import half_of
from server.models.desk import CallStatus, DeskCall
from server.models.docket import Case
from server.sessions import create_invite, create_session
from tests.helpers import api_token, csrf, login, make_user, unit
from tests.test_desk import settings  # noqa: F401  (a working day)
from tests.test_invites import make_case

ROLES = {
    "adm": ("admin", "center"),
    "clk": ("clerk", "center"),
    "jdg": ("judge", "center"),
    "med": ("mediator", "center"),  # on duty; answers the live call
    "med2": ("mediator", "center"),
    "stf": ("office_staff", "shaping"),  # the calling office
    "stf2": ("office_staff", "caiwa"),  # another office
}
# The callers of the matrix, in the order of each row below.
WHO = ("adm", "clk", "jdg", "med", "med2", "stf", "stf2")


def row(*statuses: int) -> dict[str, int]:
    return dict(zip(WHO, statuses, strict=True))


# route -> expected status per caller ("party": a party's link as the credential, and "anon",
# are worked out in the test).
API = {
    "roster": row(200, 200, 200, 200, 200, 200, 200),
    "roster_set": row(200, 200, 403, 403, 403, 403, 403),
    "list": row(200, 200, 200, 200, 200, 200, 200),
    "get": row(200, 200, 200, 200, 200, 200, 404),
    "place": row(403, 403, 403, 403, 403, 201, 201),
    "accept": row(403, 403, 200, 200, 200, 403, 403),
    "hang_up": row(403, 403, 403, 403, 403, 200, 404),
    "callback": row(403, 403, 403, 403, 403, 200, 404),
    "called_back": row(200, 200, 200, 200, 200, 403, 403),
    "register": row(403, 403, 403, 200, 403, 200, 404),
    "attach": row(403, 403, 403, 200, 403, 403, 404),
}
PAGES = {
    "desk": row(200, 200, 200, 200, 200, 303, 303),
    "roster_page": row(200, 200, 200, 200, 200, 200, 200),
    "roster_post": row(303, 303, 403, 403, 403, 403, 403),
    "terminal": row(404, 404, 404, 404, 404, 200, 200),
}
INTAKE = {
    "applicant": {"name": "王五", "phone": "13800000000"},
    "cause": "相邻关系纠纷",
    "consent_to_mediate": True,
}


async def _world(client):
    """One of each kind of call for the calling office, so that every route can be tried
    in one test without one try changing what the next one finds."""
    users = {u: await make_user(client, u, r, office=o) for u, (r, o) in ROLES.items()}
    existing = await make_case(client, office="shaping", mediator_id=users["med"].id)
    async with unit(client.app, users["med"]) as ctx:
        day, half = half_of(ctx)
        stf, now = users["stf"], ctx.now()

        def call(status: str = CallStatus.RINGING) -> DeskCall:
            ended = None if status == CallStatus.RINGING else now
            return DeskCall(
                office_id=stf.office_id, caller_id=stf.id, status=status, called_at=now,
                ended_at=ended, roster="", callback_note="",
            )  # fmt: skip

        rows = {k: call() for k in ("accept", "hang_up", "register", "attach")}
        rows |= {k: call(CallStatus.MISSED) for k in ("callback", "called_back")}
        ctx.db.add_all(rows.values())
        await ctx.db.flush()
        for k in ("register", "attach"):
            await calls.accept(ctx, rows[k].id)
        case = await ctx.db.get(Case, existing)
        session = await create_session(ctx, case, kind="mediation")
        _inv, url = await create_invite(ctx, session, case.parties[0])
        ids = {k: row.id for k, row in rows.items()}
    return ids, existing, url.rsplit("/", 1)[1], (day, half)


def _calls(ids, existing, today):
    day, half = today
    base = "/api/v1/desk/calls"
    return {
        "roster": ("GET", "/api/v1/desk/roster", None),
        "roster_set": ("PUT", f"/api/v1/desk/roster/{day}/{half}", {"user_ids": []}),
        "list": ("GET", base, None),
        "get": ("GET", f"{base}/{ids['register']}", None),
        "place": ("POST", base, None),
        "accept": ("POST", f"{base}/{ids['accept']}/accept", None),
        "hang_up": ("POST", f"{base}/{ids['hang_up']}/hang-up", None),
        "callback": ("POST", f"{base}/{ids['callback']}/callback", {"phone": "", "note": ""}),
        "called_back": ("POST", f"{base}/{ids['called_back']}/called-back", None),
        "register": ("POST", f"{base}/{ids['register']}/case", INTAKE),
        "attach": ("POST", f"{base}/{ids['attach']}/attach", {"case_id": existing}),
    }


@pytest.mark.parametrize("who", [*sorted(ROLES), "party", "anon"])
async def test_desk_api(client, who: str) -> None:
    ids, existing, link, today = await _world(client)
    headers = {}
    if who == "party":
        headers = {"Authorization": f"Bearer {link}"}
    elif who != "anon":
        headers = {"Authorization": f"Bearer {await api_token(client, who)}"}
    client.session.cookie_jar.clear()  # bare calls: the credential is the header or nothing
    got, want = {}, {}
    for route, (method, path, body) in _calls(ids, existing, today).items():
        resp = await client.request(method, path, json=body, headers=headers)
        got[route] = resp.status
        # Nobody logged in: asked to log in (401), except a bodiless change, which a
        # browser's form could send: the CSRF check refuses it first (403 csrf_failed).
        anon = 401 if method == "GET" or who == "party" or body is not None else 403
        want[route] = API[route].get(who, anon)
        if route == "list" and who == "stf2":
            assert await resp.json() == []  # another office's calls are not listed
    assert got == want


@pytest.mark.parametrize("who", [*sorted(ROLES), "anon"])
async def test_desk_pages_and_socket(client, who: str) -> None:
    _ids, _existing, _link, (day, half) = await _world(client)
    if who != "anon":
        await login(client, who)
    else:
        await client.get("/login")
    got = {}
    for page in sorted(PAGES):
        if page == "roster_post":
            form = {"day": str(day), "half": half, "user": "", "csrf_token": csrf(client)}
            resp = await client.post("/desk/roster", data=form, allow_redirects=False)
        else:
            path = {"desk": "/desk", "roster_page": "/desk/roster", "terminal": "/desk/terminal"}
            resp = await client.get(path[page], allow_redirects=False)
        got[page] = resp.status
        if who == "anon" and page == "roster_post":
            assert resp.status == 401  # a form sent without a login is not kept for later
        elif who == "anon":  # every desk page sends the anonymous to log in
            assert resp.status in (302, 303) and "/login" in resp.headers["Location"], page
    if who != "anon":
        assert got == {page: PAGES[page][who] for page in PAGES}
    client.session.cookie_jar.clear()
    headers = {} if who == "anon" else {"Authorization": f"Bearer {await api_token(client, who)}"}
    if who == "anon":
        assert (await client.get("/ws/desk")).status == 401
        return
    # A real WebSocket client, read and closed: a bare upgrade request left a socket open
    # that nobody read or closed, and the app's shutdown once waited on it for good.
    ws = await client.ws_connect("/ws/desk", headers=headers)
    first = await ws.receive_json(timeout=10)
    assert first["type"] == "desk.state"
    await ws.close()
