"""The real server SIGKILLed while sealing an agreement, then started again (the way of
``tests/kill_helpers.py``): the kill lands as the signed PDF reaches the disk. The agreement
is sealed exactly once, or not at all and sealable again; the signed PDF a dead process left
behind is gone after the next seal, the sealed one verifies, and so do the audit chain and
the recordings.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from server.db import make_engine, make_sessionmaker
from server.models.agreements import Agreement, AgreementSignature, SealedDocument
from server.settings import Settings
from server.web.keys import SENDER
from tests.agreement_helpers import bearer, build_world, signature_png
from tests.helpers import free_port, served_token
from tests.kill_helpers import Server, assert_verifies, run_cli
from tests.test_agreements_flow import _b64, _draft, _party_sign
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


async def test_sigkill_while_sealing_an_agreement(
    aiohttp_client: Any, app: web.Application, settings: Settings, tmp_path: Path
) -> None:
    app[SENDER].autostart = False
    client = await aiohttp_client(app)
    w = await build_world(client)
    agreement = await _draft(client, w, await bearer(client, "med"))
    version = agreement["current_version"]
    for pid, name in ((w.applicant_id, "张三"), (w.respondent_id, "李四")):
        resp = await _party_sign(client, w, pid, agreement, name)
        assert resp.status == 201, await resp.text()
    mediator_signs = {
        "version_id": version["id"],
        "content_hash": version["content_hash"],
        "typed_name": "王调解",
        "image_png": _b64(signature_png(9)),
    }
    documents = settings.data_dir / "agreements"

    server = Server(settings, free_port(), tmp_path / "server.log")
    await server.start()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await served_token(http, server.url, "med")
        url = f"{server.url}/api/v1/agreements/{agreement['id']}/signatures"

        async def sign() -> int | None:
            try:
                async with http.post(
                    url, json=mediator_signs, headers={"Authorization": f"Bearer {token}"}
                ) as resp:
                    await resp.read()
                    return resp.status
            except aiohttp.ClientError:
                return None

        signing = asyncio.create_task(sign())

        async def on_disk() -> bool:
            return documents.exists() and any(documents.iterdir())

        # The kill lands as the signed PDF reaches the disk, before or as its row commits.
        await wait_for(on_disk, 600, what="the sealed PDF written", detail=server.log_tail)
        await server.kill(signal.SIGKILL)
        first_answer = await signing
    assert first_answer in (None, 201), first_answer

    await server.start()
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as db:
            row = await db.get(Agreement, agreement["id"])
            assert row is not None
            sealed_before = row.status == "sealed"
            docs = list(await db.scalars(select(SealedDocument)))
            mediator_sigs = await db.scalar(
                select(func.count())
                .select_from(AgreementSignature)
                .where(AgreementSignature.role == "mediator")
            )
        # Either the whole seal committed (row, signature, file) or none of it did.
        assert len(docs) == mediator_sigs == (1 if sealed_before else 0), (docs, mediator_sigs)
        if not sealed_before:
            # Not sealed: the mediator signs again and it seals, once.
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                token = await served_token(http, server.url, "med")
                async with http.post(
                    f"{server.url}/api/v1/agreements/{agreement['id']}/signatures",
                    json=mediator_signs,
                    headers={"Authorization": f"Bearer {token}"},
                ) as resp:
                    assert resp.status == 201, await resp.text()
        async with maker() as db:
            docs = list(await db.scalars(select(SealedDocument)))
            row = await db.get(Agreement, agreement["id"])
            assert row is not None and row.status == "sealed"
    finally:
        await engine.dispose()
    await server.kill(signal.SIGTERM)

    assert len(docs) == 1, docs
    sealed = documents / docs[0].filename
    done = run_cli(server, "agreements", "verify", str(sealed))
    assert done.returncode == 0, (done.stdout, done.stderr)
    # What the dead process wrote before its transaction committed was removed by the next
    # seal: one PDF of this agreement on disk, the sealed one.
    leftovers = [f.name for f in documents.iterdir() if f.name != docs[0].filename]
    assert leftovers == []
    await assert_verifies(server)
    print(f"KILL sealing: sealed before the kill: {sealed_before}, first answer {first_answer}, "
          f"PDFs left by the dead process: {len(leftovers)}")  # fmt: skip
