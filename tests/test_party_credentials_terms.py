"""Who may rewrite an agreement's terms and confirm it (the access rules settled with issue
12's findings): the access matrix over every role and anonymous callers, for rewriting the
terms in mediation and in the fast-track stage (where the assigned judge mediates), and for
judicial confirmation of the sealed agreement. Every expected status is written here by
hand; the world, the accounts and the callers are ``tests/test_party_credentials.py``'s.
"""

from __future__ import annotations

from typing import Any

import pytest

from server.models.docket import Stage
from tests.agreement_helpers import World, bearer, terms_for
from tests.test_agreement_access import _seal
from tests.test_party_credentials import (
    ACCOUNTS,
    JSON,
    _draft,
    _sign_body,
    build,
    headers_of,
    open_case,
)

# --- rewriting the terms, judicial confirmation (the access rules settled) ------------------

# (who, rewrite the terms in mediation, in the fast-track stage)
REWRITE = [
    ("admin", 403, 403),
    ("clerk", 403, 403),
    ("clerk2", 403, 403),
    ("judge", 403, 200),  # in fast-track the assigned judge mediates
    ("judge2", 403, 403),
    ("med", 200, 200),
    ("med2", 403, 403),
    ("staff_own", 403, 403),
    ("staff_other", 404, 404),
    (None, 401, 401),
]


@pytest.mark.parametrize(("who", "mediation", "fast_track"), REWRITE)
async def test_rewrite_terms_matrix(client, who, mediation, fast_track):
    for stage, expected in ((Stage.PRE_LITIGATION_MEDIATION, mediation),
                            (Stage.FAST_TRACK, fast_track)):  # fmt: skip
        w = await build(client) if stage != Stage.FAST_TRACK else await _rebuild(client, stage)
        agreement = await _draft(client, w)
        # The applicant has signed: a rewrite voids that signature.
        client.session.cookie_jar.clear()
        resp = await client.post(
            f"/api/v1/invites/{w.tokens[w.applicant_id]}/agreement/signatures",
            data=_sign_body(agreement, "张三"), headers=JSON,
        )  # fmt: skip
        assert resp.status == 201, await resp.text()
        auth = await headers_of(client, who)
        resp = await client.put(f"/api/v1/agreements/{agreement['id']}/terms",
                                json={"terms": terms_for(w, 4_000_000)}, headers=auth)  # fmt: skip
        assert resp.status == expected, (who, stage, await resp.text())
        if expected == 200:
            assert (await resp.json())["voided_signatures"] == 1


async def _rebuild(client: Any, stage: Stage) -> World:
    """A second case in ``stage`` with the same people (the accounts exist already)."""
    from sqlalchemy import select

    from server.models.accounts import User
    from server.web.keys import SESSIONMAKER

    async with client.app[SESSIONMAKER]() as db:
        users = {key: await db.scalar(select(User).where(User.username == name))
                 for key, name, _r, _o in ACCOUNTS}  # fmt: skip
    return await open_case(client, users, stage, "hearing")


# (who, judicial confirmation of the sealed agreement)
CONFIRM = [
    ("admin", 403),
    ("clerk", 403),
    ("clerk2", 403),
    ("judge", 200),
    ("judge2", 403),
    ("med", 403),
    ("med2", 403),
    ("staff_own", 403),
    ("staff_other", 404),
    (None, 401),
]


@pytest.mark.parametrize(("who", "status"), CONFIRM)
async def test_confirm_matrix(client, who, status):
    w = await build(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    auth = await headers_of(client, who)
    resp = await client.post(f"/api/v1/agreements/{agreement['id']}/confirm", json={},
                             headers=auth)  # fmt: skip
    assert resp.status == status, (who, await resp.text())
