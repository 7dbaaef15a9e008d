"""Sealing and verification: hashes and a signed manifest; verify names every missing,
altered or unlisted file and a manifest whose signature fails, in-process and through the
``courtlink recordings verify`` command."""

from __future__ import annotations

import json
import os

from recordings import keys, paths
from recordings.verify import verify_session
from server.models.recordings import Recording
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.recording_db import recorded_session, recording_of, recordings_cli


async def _verify(client, session_id):
    async with client.app[SESSIONMAKER]() as db:
        from sqlalchemy import select

        rec = await db.scalar(select(Recording).where(Recording.session_id == session_id))
        return await verify_session(db, client.app[SETTINGS], rec)


async def test_seal_stores_facts_and_a_signed_manifest(client):
    case_id, session_id = await recorded_session(client)
    settings = client.app[SETTINGS]
    directory = paths.session_dir(settings, session_id)
    manifest = json.loads((directory / paths.MANIFEST).read_bytes())
    assert manifest["case_id"] == case_id and manifest["session_id"] == session_id
    assert manifest["case_number"].startswith("（2026）")
    assert len(manifest["files"]) == 4
    assert {p["name"] for p in manifest["participants"]} == {"张三", "李四"}
    video = next(f for f in manifest["files"] if f["kind"] == "video")
    assert video["frames"] == 60 and abs(video["duration_ms"] - 2000) <= 40
    assert len(video["sha256"]) == 64
    public = keys.load_public(settings.data_dir)
    signature = (directory / paths.SIGNATURE).read_text().strip()
    assert keys.check(public, (directory / paths.MANIFEST).read_bytes(), signature)
    assert (settings.data_dir / "keys" / keys.PRIVATE_NAME).stat().st_mode & 0o077 == 0
    report = await _verify(client, session_id)
    assert report.ok, report.problems


async def test_verify_names_flipped_deleted_and_extra_files(client):
    _, session_id = await recorded_session(client)
    settings = client.app[SETTINGS]
    directory = paths.session_dir(settings, session_id)
    files = sorted(p for p in directory.glob("*.webm"))
    data = bytearray(files[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    files[0].write_bytes(bytes(data))
    files[1].unlink()
    (directory / "extra.webm").write_bytes(b"not part of the record")
    report = await _verify(client, session_id)
    found = {(p.kind, os.path.basename(p.name)) for p in report.problems}
    assert ("altered", files[0].name) in found
    assert ("missing", files[1].name) in found
    assert ("unlisted", "extra.webm") in found
    # The flipped byte may also cost the altered file a frame when decoded; nothing else fails.
    named = {os.path.basename(p.name) for p in report.problems}
    assert named == {files[0].name, files[1].name, "extra.webm"}

    result = await recordings_cli(settings, "verify", str(session_id))
    assert result.returncode == 1, result.stdout + result.stderr
    for name in (files[0].name, files[1].name, "extra.webm"):
        assert name in result.stdout
    # The altered file is also named as the clerk downloaded it.
    seg = next(
        s
        for s in (await recording_of(client, session_id)).segments
        if s.path.endswith(files[0].name)
    )
    assert paths.download_name(session_id, seg.id, seg.label) in result.stdout


async def test_a_tampered_manifest_fails_its_signature(client):
    _, session_id = await recorded_session(client, people=1)
    settings = client.app[SETTINGS]
    ok = await recordings_cli(settings, "verify", str(session_id))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK" in ok.stdout
    manifest = paths.session_dir(settings, session_id) / paths.MANIFEST
    manifest.write_bytes(
        manifest.read_bytes().replace(b'"interrupted": false', b'"interrupted": true')
    )
    report = await _verify(client, session_id)
    assert {p.kind for p in report.problems} == {"signature", "manifest"}
    bad = await recordings_cli(settings, "verify", str(session_id))
    assert bad.returncode == 1 and "SIGNATURE" in bad.stdout
