"""``courtlink agreements verify FILE``: the offline check says yes to the sealed original
and no (exit 1) to a copy with one changed byte, on either database."""

from __future__ import annotations

import asyncio
import json

from server.cli import main
from tests.agreement_helpers import bearer, build_world
from tests.test_agreement_access import _seal


async def test_cli_verify(client, tmp_path, monkeypatch, capsys):
    w = await build_world(client)
    agreement = await _seal(client, w, await bearer(client, "med"))
    doc = agreement["documents"][0]
    clerk = {"Authorization": f"Bearer {await bearer(client, 'clerk')}"}
    pdf = await (await client.get(doc["download_url"], headers=clerk)).read()
    good = tmp_path / "good.pdf"
    good.write_bytes(pdf)
    bad = tmp_path / "bad.pdf"
    broken = bytearray(pdf)
    broken[len(broken) // 2] ^= 0x04
    bad.write_bytes(bytes(broken))
    from server.web.keys import SETTINGS

    s = client.app[SETTINGS]
    monkeypatch.setenv("COURTLINK_DATA_DIR", str(s.data_dir))
    monkeypatch.setenv("COURTLINK_DATABASE_URL", s.effective_database_url)

    def run(*argv: str) -> int:
        return main(list(argv))

    # The CLI runs its own event loop: give it a thread, as a shell would a process.
    code = await asyncio.to_thread(run, "agreements", "verify", "--json", str(good))
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["original"] is True and out["code"] == doc["code"]
    assert out["signature"]["ok"] is True
    code = await asyncio.to_thread(run, "agreements", "verify", str(bad))
    text = capsys.readouterr().out
    assert code == 1 and "NOT a sealed original" in text
