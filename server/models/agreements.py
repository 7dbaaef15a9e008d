"""Mediation agreements: document templates (versioned), agreement drafts and their versions,
signatures bound to one version's hash, and the sealed (digitally signed) PDF documents.

A signature names the version it was given on; a new version makes every earlier signature
void without touching it (the record of who signed what stays). A sealed document is either
the signed agreement or the judicial-confirmation ruling; its verification code is public.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.accounts import User
from server.models.base import Base, UTCDateTime, utcnow
from server.models.docket import Case, Party


class AgreementTemplate(Base):
    """A document template: ``kind`` agreement or ruling, chosen per case type (案由)."""

    __tablename__ = "agreement_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # agreement | ruling
    name: Mapped[str] = mapped_column(String(128))
    # Causes of action (案由) this template is for, matched as substrings; "" = the default.
    case_type: Mapped[str] = mapped_column(String(128), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[AgreementTemplateVersion]] = relationship(
        back_populates="template", order_by="AgreementTemplateVersion.number", lazy="selectin"
    )


class AgreementTemplateVersion(Base):
    """One saved text of a template; versions are never changed or deleted."""

    __tablename__ = "agreement_template_versions"
    __table_args__ = (UniqueConstraint("template_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("agreement_templates.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    template: Mapped[AgreementTemplate] = relationship(back_populates="versions")


class Agreement(Base):
    """The agreement of one case: its drafts, signatures and seal."""

    __tablename__ = "agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), unique=True, index=True
    )
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="SET NULL"), default=None
    )
    # draft -> sealed (all signed) -> confirmed (judicial confirmation ruling sealed)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # No foreign key: versions point at their agreement, and a cycle of keys would need
    # deferred constraints on both databases for no gain.
    current_version_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)

    case: Mapped[Case] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id], lazy="joined")


class AgreementVersion(Base):
    """One saved set of terms; ``content_hash`` is SHA-256 of its canonical serialization."""

    __tablename__ = "agreement_versions"
    __table_args__ = (UniqueConstraint("agreement_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("agreement_template_versions.id"), default=None
    )
    terms: Mapped[dict[str, object]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgreementSignature(Base):
    """A party's or the mediator's handwritten signature on one version."""

    __tablename__ = "agreement_signatures"
    __table_args__ = (
        UniqueConstraint("version_id", "party_id", name="uq_agreement_signatures_version_party"),
        UniqueConstraint("version_id", "user_id", name="uq_agreement_signatures_version_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int] = mapped_column(
        ForeignKey("agreement_versions.id", ondelete="CASCADE"), index=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # party | mediator
    party_id: Mapped[int | None] = mapped_column(
        ForeignKey("parties.id", ondelete="CASCADE"), default=None
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    typed_name: Mapped[str] = mapped_column(String(128))
    image_png: Mapped[bytes] = mapped_column(LargeBinary)
    image_sha256: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("mediation_sessions.id", ondelete="SET NULL"), default=None
    )
    address: Mapped[str | None] = mapped_column(String(64), default=None)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    party: Mapped[Party | None] = relationship(lazy="joined")


class SealedDocument(Base):
    """A rendered, digitally signed PDF: the agreement or the confirmation ruling."""

    __tablename__ = "sealed_documents"
    __table_args__ = (UniqueConstraint("agreement_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("agreements.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # agreement | ruling
    code: Mapped[str] = mapped_column(String(32), unique=True)
    case_number: Mapped[str] = mapped_column(String(64), default="")
    # Relative to data_dir/agreements; never built from user input.
    filename: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    development: Mapped[bool] = mapped_column(Boolean, default=False)
    signer: Mapped[str] = mapped_column(String(255), default="")
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
