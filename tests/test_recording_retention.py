"""Host start/stop of recording (audit log and case timeline), the retention period per case
outcome, legal holds, and ``courtlink recordings purge --dry-run`` and the real purge."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from recordings import paths, retention
from server.docket import documents, get_case, transition
from server.models.accounts import User
from server.models.audit import AuditEntry
from server.models.base import utcnow
from server.models.docket import Case, DocketEntry, Stage
from server.models.recordings import Recording
from server.models.sessions import MediationSession
from server.settings import Settings
from server.web.keys import SESSIONMAKER, SETTINGS
from tests.helpers import api_token, csrf, login, make_user, unit
from tests.recording_db import recorded_session, recording_of, recordings_cli
from tests.test_documents import PDF


async def test_host_stops_and_starts_recording_into_audit_and_timeline(client):
    med = await make_user(client, "med", "mediator")
    await make_user(client, "other", "mediator")
    case_id, session_id = await recorded_session(client, people=1, seconds=0.5, mediator_id=med.id)
    async with client.app[SESSIONMAKER]() as db:
        (await db.get(MediationSession, session_id)).status = "open"
        await db.commit()
    url = f"/api/v1/sessions/{session_id}/recording"
    await login(client, "other")
    resp = await client.post(url, json={"active": False}, headers={"X-CSRF-Token": csrf(client)})
    assert resp.status == 403
    await login(client, "med")
    for active in (False, True):
        resp = await client.post(
            url, json={"active": active}, headers={"X-CSRF-Token": csrf(client)}
        )
        assert resp.status == 200 and (await resp.json())["active"] is active
    resp = await client.post(url, json={"active": "maybe"}, headers={"X-CSRF-Token": csrf(client)})
    assert resp.status == 422
    async with client.app[SESSIONMAKER]() as db:
        actions = (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.in_(("recording.stopped", "recording.started")))
                .order_by(AuditEntry.id)
            )
        ).all()
        assert actions == ["recording.stopped", "recording.started"]
        texts = (
            await db.scalars(
                select(DocketEntry.text)
                .where(DocketEntry.case_id == case_id, DocketEntry.kind == "recording")
                .order_by(DocketEntry.id)
            )
        ).all()
        assert [t.split(" (")[0] for t in texts] == ["recording stopped", "recording started"]
    page = await (await client.get(f"/cases/{case_id}")).text()
    assert f"会话 #{session_id}：停止录像" in page and f"会话 #{session_id}：开始录像" in page


async def _resolve(client, session_id: int, stage: Stage, days_ago: int) -> str:
    """Resolve the session's case as its mediator does (``server.docket.transition``), with
    the unit's clock set ``days_ago`` back: returns the outcome the product gave it."""
    async with client.app[SESSIONMAKER]() as db:
        case_id = (await db.get(MediationSession, session_id)).case_id
        mediator = await db.get(User, (await db.get(Case, case_id)).mediator_id)
    at = utcnow() - timedelta(days=days_ago)
    async with unit(client.app, mediator) as ctx:
        ctx.clock = lambda: at
        case = await transition(ctx, await get_case(ctx, case_id), stage)
        return str(case.outcome)


async def test_retention_hold_dry_run_and_purge(client):
    settings = client.app[SETTINGS]
    days = settings.recording_retention_days
    med = await make_user(client, "med", "mediator")
    sessions = [
        (await recorded_session(client, people=1, seconds=0.5, mediator_id=med.id))[1]
        for _ in range(5)
    ]
    old, mediated, held, young, open_case = sessions
    assert await _resolve(client, old, Stage.WITHDRAWN, days["withdrawn"] + 1) == "withdrawn"
    # A mediated case ends with an outcome saying where it was mediated, never "mediated":
    # its period is the "mediated" one all the same.
    outcome = await _resolve(client, mediated, Stage.MEDIATED, days["mediated"] + 1)
    assert outcome == "mediated_pre_litigation"
    await _resolve(client, held, Stage.MEDIATED, days["mediated"] + 1)
    await _resolve(client, young, Stage.MEDIATED, days["mediated"] - 1)
    async with client.app[SESSIONMAKER]() as db:
        rec = await db.scalar(select(Recording).where(Recording.session_id == held))
        rec.legal_hold, rec.hold_reason = True, "appeal pending"
        await db.commit()
    old_files = [paths.inside(settings, s.path) for s in (await recording_of(client, old)).segments]

    result = await recordings_cli(settings, "purge", "--dry-run")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"session {old} " in out and "would delete 2 file(s)" in out
    assert f"session {mediated} " in out and "(outcome mediated_pre_litigation, expired" in out
    assert f"session {held}: kept, legal hold (appeal pending)" in out
    assert f"session {young}" not in out and f"session {open_case}" not in out
    assert all(f.exists() for f in old_files)
    # The admin's page says the same in the court's words, not the settings' keys.
    await make_user(client, "adm", "admin")
    await login(client, "adm")
    page = await (await client.get("/admin/recordings")).text()
    assert "调解结案（各阶段） 3650、速裁判决 3650、撤回 1095。" in page
    assert "<td>诉前调解成功</td>" in page and "<td>撤回</td>" in page
    assert "mediated_pre_litigation" not in page and "adjudicated" not in page

    async with unit(client.app) as ctx:
        done = await retention.purge(ctx)
    assert sorted(c.recording.session_id for c in done) == sorted([old, mediated])
    assert not any(f.exists() for f in old_files)
    rec = await recording_of(client, old)
    assert rec.purged_at is not None and {s.status for s in rec.segments} == {"purged"}
    for kept in (held, young, open_case):
        assert all(
            paths.inside(settings, s.path).exists()
            for s in (await recording_of(client, kept)).segments
        )
    async with client.app[SESSIONMAKER]() as db:
        audits = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "recording.purged"))
        ).all()
        assert sorted(a.detail["session_id"] for a in audits) == sorted([old, mediated])


def test_every_outcome_has_its_retention_period():
    settings = Settings(
        recording_retention_days={"mediated": 30, "adjudicated": 40, "withdrawn": 5}
    )
    periods = {
        "mediated_pre_litigation": 30,
        "mediated_pretrial": 30,
        "mediated_fast_track": 30,
        "adjudicated": 40,
        "withdrawn": 5,
    }
    assert {o: retention.retention_days(settings, o) for o in periods} == periods
    # An outcome named itself overrides its class.
    settings = Settings(recording_retention_days={"mediated": 30, "mediated_pretrial": 90})
    assert retention.retention_days(settings, "mediated_pretrial") == 90
    assert retention.retention_days(settings, "mediated_fast_track") == 30
    assert retention.retention_days(settings, "adjudicated") is None


async def test_the_case_file_follows_its_cases_retention(client):
    """A case's documents (电子卷宗) go when its period runs out, as its recordings do: the
    bytes deleted, the row kept with its hash and marked, the download answering why,
    audited; a younger case's documents stay. ``purge --dry-run`` names them first."""
    settings = client.app[SETTINGS]
    days = settings.recording_retention_days
    med = await make_user(client, "med", "mediator")
    auth = {"Authorization": f"Bearer {await api_token(client, 'med')}"}
    old, young = [
        (await recorded_session(client, people=1, seconds=0.5, mediator_id=med.id))[1]
        for _ in range(2)
    ]
    await _resolve(client, old, Stage.WITHDRAWN, days["withdrawn"] + 1)
    await _resolve(client, young, Stage.WITHDRAWN, days["withdrawn"] - 1)
    docs = {}
    for sid in (old, young):
        async with client.app[SESSIONMAKER]() as db:
            case_id = (await db.get(MediationSession, sid)).case_id
        resp = await client.post(
            f"/api/v1/cases/{case_id}/documents?filename=证据.pdf", data=io.BytesIO(PDF),
            headers=auth,
        )  # fmt: skip
        assert resp.status == 201, await resp.text()
        docs[sid] = (case_id, (await resp.json())["id"])
    stored = {p.name for p in documents.root(settings).rglob("*.pdf")}
    assert len(stored) == 2

    out = (await recordings_cli(settings, "purge", "--dry-run")).stdout
    assert f"would delete document {docs[old][1]} (证据.pdf" in out
    assert f"document {docs[young][1]} " not in out
    async with unit(client.app) as ctx:
        gone = await documents.purge(
            ctx, lambda case: retention.retention_days(settings, retention.outcome_of(case))
        )
    assert [g.doc.id for g in gone] == [docs[old][1]]
    assert len(list(documents.root(settings).rglob("*.pdf"))) == 1
    case_id, doc_id = docs[old]
    listed = await (await client.get(f"/api/v1/cases/{case_id}/documents", headers=auth)).json()
    assert listed[0]["purged"] is True and listed[0]["sha256"]
    resp = await client.get(f"/api/v1/cases/{case_id}/documents/{doc_id}", headers=auth)
    assert resp.status == 404 and (await resp.json())["error"]["code"] == "document_purged"
    young_case, young_doc = docs[young]
    resp = await client.get(f"/api/v1/cases/{young_case}/documents/{young_doc}", headers=auth)
    assert resp.status == 200
    async with client.app[SESSIONMAKER]() as db:
        audits = (
            await db.scalars(select(AuditEntry).where(AuditEntry.action == "document.purged"))
        ).all()
    assert [a.object_id for a in audits] == [str(doc_id)]
