"""Who may do what on the docket API: a role × endpoint matrix of status codes, and who sees
a party's ID number unmasked (only the case's assigned judge, mediator and clerk)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.models.accounts import User
from tests.docket_helpers import OTHER_ID, PERSON_ID, bearer, load, new_case
from tests.helpers import csrf, make_user

# Who asks: (username, role, office). The case lives at the Qiaotou street office, with
# judge1, mediator1 and clerk1 assigned.
PEOPLE = {
    "admin": ("admin1", "admin", "center"),
    "clerk": ("clerk1", "clerk", "center"),
    "clerk_other": ("clerk2", "clerk", "center"),
    "judge": ("judge1", "judge", "center"),
    "mediator": ("mediator1", "mediator", "center"),
    "staff_own": ("staff1", "office_staff", "qiaotou"),
    "staff_other": ("staff2", "office_staff", "shaping"),
}
WHO = [*PEOPLE, "anonymous"]


def row(default: int, **cells: int) -> dict[str, int]:
    out = dict.fromkeys(WHO, default)
    out["anonymous"] = 401
    out.update(cells)
    return out


# endpoint -> expected status per asker. Another office's case is a 404, never a 403, so
# its existence does not leak.
MATRIX: dict[str, dict[str, int]] = {
    "list": row(200),
    "create": row(201, judge=403, staff_other=403),
    "get": row(200, staff_other=404),
    "timeline": row(200, staff_other=404),
    "update": row(200, staff_other=404),
    "party_add": row(201, staff_other=404),
    "party_update": row(200, staff_other=404),
    "consent": row(201, staff_other=404),
    "assign": row(200, judge=403, mediator=403, staff_own=403, staff_other=404),
    "file": row(200, judge=403, mediator=403, staff_own=403, staff_other=404),
    "withdraw": row(200, judge=403, mediator=403, staff_other=404),
    "overdue": row(200),
    "due_soon": row(200),
}


async def _people(client: TestClient) -> dict[str, User]:
    return {
        key: await make_user(client, name, role, office)
        for key, (name, role, office) in PEOPLE.items()
    }


async def _case(client: TestClient, people: dict[str, User]) -> int:
    return await new_case(
        client,
        people["admin"],
        office="qiaotou",
        judge_id=people["judge"].id,
        mediator_id=people["mediator"].id,
        clerk_id=people["clerk"].id,
    )


async def _call(
    client: TestClient, endpoint: str, cid: int, people: dict[str, User], headers: dict[str, str]
) -> int:
    base = f"/api/v1/cases/{cid}"
    party_id = await _first_party(client, cid)
    requests: dict[str, tuple[str, str, Any]] = {
        "list": ("GET", "/api/v1/cases", None),
        "create": ("POST", "/api/v1/cases", {"cause": "劳务合同纠纷", "office": "qiaotou"}),
        "get": ("GET", base, None),
        "timeline": ("GET", base + "/timeline", None),
        "update": ("PATCH", base, {"facts": "补充事实"}),
        "party_add": ("POST", base + "/parties", {"side": "respondent", "name": "孙七"}),
        "party_update": ("PATCH", f"{base}/parties/{party_id}", {"phone": "13600000000"}),
        "consent": ("POST", base + "/consents", {"party_id": party_id, "consents": True}),
        "assign": ("POST", base + "/assignment", {"mediator_id": people["mediator"].id}),
        "file": ("POST", base + "/transitions", {"to": "filed"}),
        "withdraw": ("POST", base + "/transitions", {"to": "withdrawn"}),
        "overdue": ("GET", "/api/v1/cases/overdue", None),
        "due_soon": ("GET", "/api/v1/cases/due-soon", None),
    }
    method, path, body = requests[endpoint]
    resp = await client.request(method, path, json=body, headers=headers)
    if resp.status >= 400:
        err = await resp.json()
        assert set(err["error"]) >= {"code", "message"}
    return resp.status


async def _first_party(client: TestClient, cid: int) -> int:
    return (await load(client, cid)).parties[0].id


async def _headers(client: TestClient, who: str) -> dict[str, str]:
    if who == "anonymous":
        # A browser with a CSRF token but no login: the answer must be 401, not a CSRF 403.
        await client.get("/login")
        return {"X-CSRF-Token": csrf(client)}
    return await bearer(client, PEOPLE[who][0])


@pytest.mark.parametrize("who", WHO)
async def test_matrix(client: TestClient, who: str) -> None:
    people = await _people(client)
    headers = await _headers(client, who)
    got = {}
    for endpoint in MATRIX:
        cid = await _case(client, people)  # a fresh case per call: moves change the case
        got[endpoint] = await _call(client, endpoint, cid, people, headers)
    assert got == {endpoint: MATRIX[endpoint][who] for endpoint in MATRIX}


async def test_office_staff_lists_only_their_office(client: TestClient) -> None:
    people = await _people(client)
    own = await _case(client, people)
    await new_case(client, people["admin"], office="shaping")
    for who, expected in (("staff_own", [own]), ("staff_other", None)):
        h = await bearer(client, PEOPLE[who][0])
        resp = await client.get("/api/v1/cases", headers=h)
        ids = [c["id"] for c in (await resp.json())["items"]]
        if expected is not None:
            assert ids == expected
        else:
            assert own not in ids and len(ids) == 1
        # Filtering by the other office does not widen what they see.
        resp = await client.get("/api/v1/cases", params={"office": "qiaotou"}, headers=h)
        ids = [c["id"] for c in (await resp.json())["items"]]
        assert ids == (expected or [])


UNMASKED = {"clerk", "judge", "mediator"}  # the assigned three


@pytest.mark.parametrize("who", list(PEOPLE))
async def test_identity_only_for_the_assigned(client: TestClient, who: str) -> None:
    people = await _people(client)
    cid = await _case(client, people)
    h = await bearer(client, PEOPLE[who][0])
    resp = await client.get(f"/api/v1/cases/{cid}", headers=h)
    if who == "staff_other":
        assert resp.status == 404
        return
    body = await resp.json()
    ids = [p["id_number"] for p in body["parties"]]
    listed = await (await client.get("/api/v1/cases", headers=h)).json()
    list_ids = [p["id_number"] for c in listed["items"] if c["id"] == cid for p in c["parties"]]
    if who in UNMASKED:
        assert ids == [PERSON_ID, OTHER_ID] and list_ids == ids
        assert body["identity_visible"] is True
    else:
        assert ids == ["140***********1232", "110***********0024"] and list_ids == ids
        assert body["identity_visible"] is False
        assert PERSON_ID not in await resp.text()
    # Nor does it leak through a party's own answer or the timeline.
    resp = await client.patch(
        f"/api/v1/cases/{cid}/parties/{body['parties'][0]['id']}",
        json={"address": "桥头街1号"},
        headers=h,
    )
    text = await resp.text()
    assert (PERSON_ID in text) is (who in UNMASKED)
    timeline = await (await client.get(f"/api/v1/cases/{cid}/timeline", headers=h)).text()
    assert PERSON_ID not in timeline
