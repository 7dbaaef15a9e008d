"""The host shows a document of the case file to the room (``document.show``, issue 17 part
2), over the real WebSocket with the real app: everyone in the host's room is told; the
showing is recorded and audited with who saw it; from then on the party who was there opens
that document through their own link (inline, audited), and nothing else of the case file:
not before it was shown, not another case's document a host names by its number."""

from __future__ import annotations

import asyncio
import io
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from server.models.audit import AuditEntry
from server.models.documents import DocumentShowing
from server.web.keys import SESSIONMAKER
from signaling.server_messages import Ack, DocumentShown, State, Welcome
from tests.helpers import audit_settled, csrf
from tests.test_documents import JPEG, PDF
from tests.test_invites import make_case
from tests.test_signaling_ws import host_and_party


async def _add(client, case_id: int, data: bytes, name: str, auth: dict[str, str]) -> int:
    resp = await client.post(
        f"/api/v1/cases/{case_id}/documents?filename={name}", data=io.BytesIO(data), headers=auth
    )
    assert resp.status == 201, await resp.text()
    return int((await resp.json())["id"])


async def _showings(client) -> list[DocumentShowing]:
    async with client.app[SESSIONMAKER]() as db:
        return list(await db.scalars(select(DocumentShowing)))


async def test_the_host_shows_a_document_and_the_party_may_open_it(client) -> None:
    async with host_and_party(client) as (host, party, sid, case_id):
        auth = {"X-CSRF-Token": csrf(client)}  # the mediator's page login (host_and_party)
        photo = await _add(client, case_id, JPEG, "借条.jpg", auth)
        other_case = await make_case(client)
        elsewhere = await _add(client, other_case, PDF, "别案.pdf", auth)
        token = parse_qs(urlsplit(str(party.url)).query)["invite"][0]
        mine = f"/api/v1/invites/{token}/documents/{photo}"

        def as_party(path: str):  # the party's own browser: no account logged in
            return party.http.get(client.make_url(path))

        h = await host.hello()
        w = await party.hello(name="张三")
        assert isinstance(h, Welcome) and isinstance(await host.reply("admit", pid=w.pid), Ack)
        await party.wait(lambda m: isinstance(m, State) and m.you.place == "main")
        # Not shown yet: the party's link does not open it.
        assert (await as_party(mine)).status == 404

        assert isinstance(await host.reply("document.show", document_id=photo), Ack)
        shown = await party.wait(lambda m: isinstance(m, DocumentShown))
        assert (shown.document_id, shown.by) == (photo, "王调解员")
        await host.wait(lambda m: isinstance(m, DocumentShown))

        for _ in range(100):  # recorded beside the room, a moment after it was told
            if await _showings(client):
                break
            await asyncio.sleep(0.05)
        (row,) = await _showings(client)
        assert (row.document_id, row.session_id, row.room) == (photo, sid, "main")
        assert len(row.party_ids) == 1
        got = await as_party(mine)
        assert got.status == 200 and await got.read() == JPEG
        assert got.headers["Content-Disposition"].startswith("inline;")

        # A party may not show anything; a host naming another case's document shows the
        # room a number, and nobody may open it through a link.
        refused = await party.reply("document.show", document_id=photo)
        assert refused.code == "not_allowed"
        await host.reply("document.show", document_id=elsewhere)
        await party.wait(lambda m: isinstance(m, DocumentShown) and m.document_id == elsewhere)
        assert (await as_party(f"/api/v1/invites/{token}/documents/{elsewhere}")).status == 404
        assert len(await _showings(client)) == 1

    await audit_settled(client.app)
    async with client.app[SESSIONMAKER]() as db:
        entries = list(
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "document")
                .order_by(AuditEntry.id)
            )
        )
    shown_entry = next(e for e in entries if e.action == "document.shown")
    assert shown_entry.actor.startswith("user:") and shown_entry.detail["session_id"] == sid
    party_download = [e for e in entries if e.action == "document.downloaded"]
    assert [e.actor.split(":")[0] for e in party_download] == ["party"]


async def test_a_party_opens_what_they_brought_but_not_the_other_sides(client) -> None:
    async with host_and_party(client) as (_host, party, _sid, case_id):
        auth = {"X-CSRF-Token": csrf(client)}  # the mediator's page login (host_and_party)
        token = parse_qs(urlsplit(str(party.url)).query)["invite"][0]
        resp = await client.post(
            f"/api/v1/invites/{token}/documents?filename=mine.png",
            data=io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
        )
        assert resp.status == 201
        own = (await resp.json())["id"]
        staff_doc = await _add(client, case_id, PDF, "对方身份证.pdf", auth)
        assert (await client.get(f"/api/v1/invites/{token}/documents/{own}")).status == 200
        assert (await client.get(f"/api/v1/invites/{token}/documents/{staff_doc}")).status == 404
        assert (await client.get(f"/api/v1/invites/bad/documents/{own}")).status == 401
