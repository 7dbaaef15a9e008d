"""The electronic case file (电子卷宗): documents kept with a case.

A document is a file (PDF, JPEG or PNG, its type read from its bytes) with the SHA-256 of
its bytes, who brought it (a user, or a party through their invite link) and by what way
(``source``: uploaded by staff, by a party, or later by mail). The bytes live under the data
directory (``documents/case-<id>/``), never in the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, utcnow


class CaseDocument(Base):
    __tablename__ = "case_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    filename: Mapped[str] = mapped_column(String(255))  # as the uploader named it
    content_type: Mapped[str] = mapped_column(String(32))  # application/pdf | image/*
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(255))  # relative to the documents directory
    source: Mapped[str] = mapped_column(String(16))  # staff | party | mail
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    party_id: Mapped[int | None] = mapped_column(
        ForeignKey("parties.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the case's retention period ran out and the bytes were deleted; the row stays,
    # with its hash, as the record that the document existed.
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DocumentShowing(Base):
    """A document shown to a session's room by its host: who saw it, and (for a party)
    the permission to open it through their link afterwards."""

    __tablename__ = "case_document_showings"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("case_documents.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="CASCADE"), index=True
    )
    room: Mapped[str] = mapped_column(String(64))
    shown_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # The parties who were in the room: they may open it later through their own links.
    party_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    shown_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
