"""Signed checkpoints over the audit chain: "the first ``size`` rows end in ``head_hash``",
signed with the court's Ed25519 audit key.

The sequencer signs one when the chain has grown and the last is older than
``CHECKPOINT_EVERY`` (or ``CHECKPOINT_ROWS`` rows behind); ``courtlink audit checkpoint``
signs one on demand and prints it as JSON for an auditor to keep. Whoever holds an old
checkpoint can later check that row ``size`` of today's log still has that hash, so rows
before it cannot have been edited, reordered, inserted or deleted, even by someone who
rehashed the whole chain after their edit.

The key is derived from the court's signing secret (``Settings.signing_secret``: SECRET_KEY,
or the key kept in the data directory), so every node of a cluster signs with the same key
and nothing new needs distributing; ``courtlink audit pubkey`` prints the public half.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.context import Court
from server.models.audit import AuditCheckpoint
from server.settings import Settings

CHECKPOINT_EVERY = timedelta(seconds=60)
CHECKPOINT_ROWS = 10_000
_STATEMENT = "courtlink-audit-checkpoint/1"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"courtlink audit checkpoints\0{settings.signing_secret()}".encode())
    return Ed25519PrivateKey.from_private_bytes(seed.digest())


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(settings: Settings) -> str:
    public = signing_key(settings).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str

    def statement(self) -> bytes:
        return f"{_STATEMENT}\n{self.size}\n{self.head_hash}\n{self.at.isoformat()}".encode()

    def to_json(self) -> str:
        return json.dumps(
            {
                "size": self.size,
                "head_hash": self.head_hash,
                "at": self.at.isoformat(),
                "key_id": self.key_id,
                "signature": self.signature,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> Checkpoint:
        data = json.loads(raw)
        return cls(
            int(data["size"]),
            str(data["head_hash"]),
            datetime.fromisoformat(data["at"]),
            str(data["key_id"]),
            str(data["signature"]),
        )

    @classmethod
    def from_row(cls, row: AuditCheckpoint) -> Checkpoint:
        return cls(row.size, row.head_hash, row.at, row.key_id, row.signature)

    def signed_by(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.signature), self.statement())
        except (InvalidSignature, ValueError):
            return False
        return self.key_id == key_id(public)


def sign(settings: Settings, size: int, head_hash: str, at: datetime) -> Checkpoint:
    private = signing_key(settings)
    unsigned = Checkpoint(size, head_hash, at, key_id(private.public_key()), "")
    signature = base64.b64encode(private.sign(unsigned.statement())).decode()
    return Checkpoint(size, head_hash, at, unsigned.key_id, signature)


async def latest(db: AsyncSession) -> AuditCheckpoint | None:
    return await db.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()))


async def store(
    db: AsyncSession, settings: Settings, size: int, head: str, at: datetime
) -> Checkpoint:
    point = sign(settings, size, head, at)
    db.add(
        AuditCheckpoint(
            size=point.size,
            head_hash=point.head_hash,
            at=point.at,
            key_id=point.key_id,
            signature=point.signature,
        )
    )
    await db.flush()
    return point


async def checkpoint_if_due(
    db: AsyncSession, court: Court, size: int, head_hash: str
) -> Checkpoint | None:
    """Inside the sequencer's transaction, after a pass: sign the chain's new head (``size``
    rows ending in ``head_hash``) when one is due."""
    last = await latest(db)
    now = court.clock()
    if not is_due(size, last.size if last else None, last.at if last else None, now):
        return None
    return await store(db, court.settings, size, head_hash, now)


def is_due(size: int, last_size: int | None, last_at: datetime | None, now: datetime) -> bool:
    """Whether a chain of ``size`` rows is owed a checkpoint: it grew since the last one
    (``last_size`` rows, signed ``last_at``), and that one is a minute old or
    ``CHECKPOINT_ROWS`` behind."""
    if size == 0:
        return False
    if last_size is None or last_at is None:
        return True
    if last_size >= size:
        return False
    return now - last_at >= CHECKPOINT_EVERY or size - last_size >= CHECKPOINT_ROWS
