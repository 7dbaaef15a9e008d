"""The real server SIGKILLed at the worst moments, then started again: nothing lost, nothing
written twice, and the audit chain, the recordings and the sealed agreements still verify.

``courtlink serve`` runs as a subprocess over this test's database and data directory (the
``Server`` of ``tests/test_recording_crash.py``, which also covers the kill during a
recording). The state before the kill is reached through the product's own operations (the
in-process app built by the factory, on the same database). Each kill waits for the event it
is aimed at (the third accepted booking, the sealed PDF reaching the disk, a mail arriving
at the SMTP server), never for a time.

- a booking burst: every booking answered 201 exists exactly once and whole (its session,
  invites, reservations and mail), nothing half-written, and a client retrying what got no
  answer ends with exactly one booking per slot;
- sealing an agreement: it is sealed exactly once, or not at all and sealable again; the
  signed PDF a dead process left behind is gone after the next seal, the sealed one verifies;
- the outbox sending mail: after restart every mail arrives, at least once, and a mail sent
  again carries the same Message-ID as the first time.
"""

from __future__ import annotations

import asyncio
import email
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, update

from server.db import make_engine, make_sessionmaker
from server.models.agreements import Agreement, AgreementSignature, SealedDocument
from server.models.scheduling import Booking, OutboxMessage, OutboxStatus, Reservation
from server.models.sessions import Invite, MediationSession
from server.settings import Settings
from server.web.keys import COURT, SENDER
from tests.agreement_helpers import bearer, build_world, signature_png
from tests.helpers import PASSWORD
from tests.test_agreements_flow import _b64, _draft, _party_sign
from tests.test_booking_support import MONDAY, Clock, add_case, local, make_world
from tests.test_recording_crash import Server, _free_port

pytestmark = pytest.mark.slow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``courtlink`` command over the server's database and data directory."""
    env = {
        **os.environ,
        "COURTLINK_DATA_DIR": str(server.settings.data_dir),
        "COURTLINK_DATABASE_URL": server.settings.effective_database_url,
        "COURTLINK_SECRET_KEY": "crash-test-secret",
    }
    exe = str(Path(sys.executable).parent / "courtlink")
    return subprocess.run(
        [exe, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _assert_verifies(server: Server) -> None:
    for args in (("audit", "verify"), ("recordings", "verify")):
        done = _cli(server, *args)
        assert done.returncode == 0, (args, done.stdout, done.stderr)


async def _token(http: aiohttp.ClientSession, base: str, username: str) -> str:
    """A bearer token from the real server's token endpoint (it asks for the CSRF pair)."""
    async with http.get(base + "/login") as resp:
        await resp.read()
    csrf = next(c.value for c in http.cookie_jar if c.key == "cl_csrf")
    async with http.post(
        base + "/api/v1/auth/token",
        headers={"X-CSRF-Token": csrf},
        json={"username": username, "password": PASSWORD},
    ) as resp:
        assert resp.status == 201, await resp.text()
        token: str = (await resp.json())["token"]
    http.cookie_jar.clear()
    return token


async def _wait(predicate: Any, what: str, server: Server, tries: int = 3000) -> None:
    """Poll ``predicate`` (an async callable) until it holds: waiting for an event."""
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}; log: {server.log.read_text()[-3000:]}")


# --- a booking burst ------------------------------------------------------------------------


def _slots(first: date, count: int) -> list[str]:
    """``count`` one-hour slots in the working blocks from ``first`` on (Monday to Friday)."""
    out: list[str] = []
    day = first
    while len(out) < count:
        if day.weekday() < 5:
            out += [local(day, h, 30) for h in (8, 9, 10, 14, 15, 16)]
        day += timedelta(days=1)
    return out[:count]


def _next_monday() -> date:
    today = datetime.now(SHANGHAI).date()
    return today + timedelta(days=7 - today.weekday())


async def test_sigkill_during_a_booking_burst(
    aiohttp_client: Any, app: web.Application, settings: Settings, tmp_path: Path
) -> None:
    app[SENDER].autostart = False  # the server under test sends; this app only sets up
    client = await aiohttp_client(app)
    await make_world(client, Clock())
    per_office = 15
    slots = _slots(_next_monday(), per_office)
    requests: list[tuple[str, dict[str, Any]]] = []
    for office in ("shaping", "qiaotou"):
        for start in slots:
            case = await add_case(client, office, "pre_litigation_mediation")
            body = {"case_id": case.id, "starts_at": start, "duration_minutes": 60}
            requests.append((f"staff_{office}", body))

    server = Server(settings, _free_port(), tmp_path / "server.log")
    await server.start()
    accepted: dict[int, dict[str, Any]] = {}  # booking id -> the request answered 201
    refused: list[tuple[int, dict[str, Any]]] = []
    unanswered: list[tuple[str, dict[str, Any]]] = []
    enough = asyncio.Event()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        tokens = {n: await _token(http, server.url, n) for n in ("staff_shaping", "staff_qiaotou")}

        async def book(who: str, body: dict[str, Any]) -> None:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            try:
                async with http.post(
                    server.url + "/api/v1/scheduling/bookings", json=body, headers=headers
                ) as resp:
                    answer = await resp.json()
                    if resp.status == 201:
                        accepted[answer["id"]] = body
                        if len(accepted) >= 3:
                            enough.set()
                    else:
                        refused.append((resp.status, answer))
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append((who, body))

        burst = [asyncio.create_task(book(who, body)) for who, body in requests]
        await asyncio.wait_for(enough.wait(), 300)
        await server.kill(signal.SIGKILL)
        await asyncio.gather(*burst)
    assert refused == [], refused  # every slot was free: nothing but 201 or no answer
    assert len(accepted) >= 3
    assert unanswered, "the kill landed after the burst; nothing was cut"

    await server.start()
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as db:
            bookings = list(await db.scalars(select(Booking)))
            by_id = {b.id: b for b in bookings}
            # Every booking answered 201 is there, once, as it was asked for.
            for booking_id, body in accepted.items():
                found = by_id.get(booking_id)
                assert found is not None, booking_id
                assert found.case_id == body["case_id"]
                assert found.starts_at == datetime.fromisoformat(str(body["starts_at"]))
            keys = [(b.case_id, b.starts_at) for b in bookings]
            assert len(keys) == len(set(keys)), "a booking was written twice"
            # Whole or not at all: no session, invite, reservation or mail without its booking.
            sessions = await db.scalar(select(func.count()).select_from(MediationSession))
            assert sessions == len(bookings)
            for booking in bookings:
                held = await db.scalar(
                    select(func.count())
                    .select_from(Reservation)
                    .where(Reservation.booking_id == booking.id, Reservation.active)
                )
                assert held == 4, (booking.id, held)
                invites = await db.scalar(
                    select(func.count())
                    .select_from(Invite)
                    .where(Invite.session_id == booking.session_id)
                )
                assert invites == 2, (booking.id, invites)
                mail = await db.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.booking_id == booking.id)
                )
                assert mail, booking.id
    finally:
        await engine.dispose()

    # The client asks again for what got no answer: each slot ends with exactly one booking
    # (201 now, or 409 naming the booking that was committed before the kill).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        tokens = {n: await _token(http, server.url, n) for n in ("staff_shaping", "staff_qiaotou")}
        for who, body in unanswered:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            async with http.post(
                server.url + "/api/v1/scheduling/bookings", json=body, headers=headers
            ) as resp:
                answer = await resp.json()
                assert resp.status in (201, 409), answer
                if resp.status == 409:
                    assert answer["error"]["code"] == "slot_taken", answer
    engine = make_engine(settings)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as db:
            rows = (await db.execute(select(Booking.case_id, Booking.starts_at))).all()
    finally:
        await engine.dispose()
    asked = {(body["case_id"], datetime.fromisoformat(body["starts_at"])) for _, body in requests}
    assert sorted(rows) == sorted(asked)  # every slot once, none twice
    print(f"KILL booking: {len(requests)} asked, {len(accepted)} answered 201 before the kill, "
          f"{len(unanswered)} cut, {len(bookings)} in the database after the restart")  # fmt: skip
    await server.kill(signal.SIGTERM)
    _assert_verifies(server)


# --- sealing an agreement -------------------------------------------------------------------


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

    server = Server(settings, _free_port(), tmp_path / "server.log")
    await server.start()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await _token(http, server.url, "med")
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
        await _wait(on_disk, "the sealed PDF written", server, tries=30_000)
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
                token = await _token(http, server.url, "med")
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
    done = _cli(server, "agreements", "verify", str(sealed))
    assert done.returncode == 0, (done.stdout, done.stderr)
    # What the dead process wrote before its transaction committed was removed by the next
    # seal: one PDF of this agreement on disk, the sealed one.
    leftovers = [f.name for f in documents.iterdir() if f.name != docs[0].filename]
    assert leftovers == []
    _assert_verifies(server)
    print(f"KILL sealing: sealed before the kill: {sealed_before}, first answer {first_answer}, "
          f"PDFs left by the dead process: {len(leftovers)}")  # fmt: skip


# --- the outbox sending mail ----------------------------------------------------------------


class SlowInbox:
    """An SMTP server that keeps every message and holds its answer to the first one until
    released: a slow server, so the kill lands between the data and the ``250``."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.first_arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(msg)
        if not self.first_arrived.is_set():
            self.first_arrived.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        return "250 OK"


async def test_sigkill_while_the_outbox_sends(
    aiohttp_client: Any,
    app: web.Application,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox = SlowInbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        app[SENDER].autostart = False  # the mail waits in the outbox for the server under test
        clock = Clock()  # booked in the held week of the scheduling tests
        app[COURT].clock = clock
        client = await aiohttp_client(app)
        world = await make_world(client, clock)
        for n in range(2):
            resp = await world.book(
                "staff_shaping", "shaping", local(MONDAY, 9 + n, 0), 60,
                host_id=world.users["med_wang"].id,
            )  # fmt: skip
            assert resp.status == 201, await resp.text()
        monkeypatch.setenv("COURTLINK_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
        engine = make_engine(settings)
        maker = make_sessionmaker(engine)
        async with maker() as db:
            emails = set(
                await db.scalars(select(OutboxMessage.id).where(OutboxMessage.channel == "email"))
            )
        assert len(emails) >= 4, emails

        server = Server(settings, _free_port(), tmp_path / "server.log")
        await server.start()  # its sender's first pass starts at once

        async def first_mail() -> bool:
            return inbox.first_arrived.is_set()

        await _wait(first_mail, "the first mail reaching the SMTP server", server)
        await server.kill(signal.SIGKILL)
        inbox.release.set()
        async with maker() as db:
            in_flight = set(
                await db.scalars(
                    select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENDING)
                )
            )
            assert in_flight, "the kill left no claimed mail"
            # The server comes back after its lease ran out (5 minutes): the claimed mail is
            # due again at the first pass.
            await db.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(in_flight))
                .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
            )
            await db.commit()
        await server.start()

        async def all_sent() -> bool:
            async with maker() as db:
                sent = set(
                    await db.scalars(
                        select(OutboxMessage.id).where(
                            OutboxMessage.channel == "email",
                            OutboxMessage.status == OutboxStatus.SENT,
                        )
                    )
                )
            return sent == emails

        await _wait(all_sent, "every mail sent after the restart", server)
        await server.kill(signal.SIGTERM)
        await engine.dispose()
    finally:
        smtp.stop()

    # At least once: one distinct Message-ID per outbox mail, every one arrived.
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(set(ids)) == len(emails), ids
    # The mail the kill interrupted came again, under the same Message-ID; nothing else twice.
    first = inbox.messages[0]["Message-ID"]
    assert ids.count(first) == 2, ids
    assert len(ids) == len(emails) + 1, ids
    print(f"KILL outbox: {len(emails)} mails, {len(in_flight)} claimed at the kill, "
          f"{len(ids)} deliveries, {len(set(ids))} distinct Message-IDs")  # fmt: skip
    _assert_verifies(server)
