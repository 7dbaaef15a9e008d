"""Who may read an agreement's original (issue 12, finding 2): the access matrix over every
role, the parties' own links and anonymous callers, for the agreement's current text, its
preview (unmasked ID numbers only for who may read the original) and the sealed PDF, and
which of them the agreement page offers. Every expected status is written here by hand; the
world, the accounts and the callers are ``tests/test_party_credentials.py``'s.
"""

from __future__ import annotations

import pytest

from tests.agreement_helpers import bearer, terms_for
from tests.docket_helpers import OTHER_ID, PERSON_ID
from tests.helpers import login
from tests.test_agreement_access import _seal
from tests.test_party_credentials import MASKED, build, headers_of

# --- the agreement's original, its preview, the sealed PDF (finding 2) ----------------------

# (who, the current text, the sealed PDF, the preview: status and whether it is unmasked)
ORIGINALS = [
    ("admin", 403, 403, 403, None),
    ("clerk", 200, 200, 403, None),
    ("clerk2", 200, 200, 403, None),
    ("judge", 200, 200, 200, True),
    ("judge2", 403, 403, 200, False),
    ("med", 200, 200, 200, True),
    ("med2", 403, 403, 200, False),
    ("staff_own", 403, 403, 403, None),
    ("staff_other", 404, 404, 404, None),
    (None, 401, 401, 401, None),
]


@pytest.mark.parametrize(("who", "text", "pdf", "preview", "unmasked"), ORIGINALS)
async def test_originals_matrix(client, who, text, pdf, preview, unmasked):
    w = await build(client)
    auth = await headers_of(client, who)
    resp = await client.post(f"/api/v1/cases/{w.case_id}/agreement/preview",
                             json={"terms": terms_for(w)}, headers=auth)  # fmt: skip
    assert resp.status == preview, (who, await resp.text())
    if preview == 200:
        html = await resp.text()
        assert "张三" in html and "李四" in html
        if unmasked:
            assert PERSON_ID in html and OTHER_ID in html, who
        else:
            assert PERSON_ID not in html and OTHER_ID not in html, who
            assert MASKED[PERSON_ID] in html and MASKED[OTHER_ID] in html, who
    agreement = await _seal(client, w, await bearer(client, "med"))
    aid = agreement["id"]
    resp = await client.get(f"/api/v1/agreements/{aid}/document", headers=auth)
    assert resp.status == text, (who, await resp.text())
    if text == 200:
        assert PERSON_ID in await resp.text()
    resp = await client.get(f"/api/v1/agreements/{aid}/documents/agreement.pdf", headers=auth)
    assert resp.status == pdf, (who, await resp.text())
    if pdf == 200:
        assert (await resp.read())[:5] == b"%PDF-"


async def test_originals_through_the_parties_links(client):
    w = await build(client)
    await _seal(client, w, await bearer(client, "med"))
    client.session.cookie_jar.clear()
    for pid in (w.applicant_id, w.respondent_id):
        resp = await client.get(f"/api/v1/invites/{w.tokens[pid]}/agreement/document")
        html = await resp.text()
        assert resp.status == 200, html
        assert PERSON_ID in html and OTHER_ID in html
    assert (await client.get("/api/v1/invites/1.x.y/agreement/document")).status == 401


async def test_the_agreement_page_offers_the_original_only_to_who_may_read_it(client):
    w = await build(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    pdf_link = f"/api/v1/agreements/{agreement['id']}/documents/agreement.pdf"
    for who, shows in (("judge2", False), ("staff_own", False), ("admin", False),
                       ("clerk2", True), ("judge", True)):  # fmt: skip
        client.session.cookie_jar.clear()
        await login(client, who)
        resp = await client.get(f"/cases/{w.case_id}/agreement")
        html = await resp.text()
        assert resp.status == 200, (who, html)
        assert (pdf_link in html) is shows, who
        assert ('class="agreement-text"' in html) is shows, who  # the text, in the page
        assert (PERSON_ID in html) is shows, who  # the unmasked ID only in the original
