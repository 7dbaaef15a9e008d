"""The one typed settings object, read from ``COURTLINK_*`` variables and an optional ``.env``.

Every field here must be documented in README.md (a test checks it). Modules never read the
environment themselves; they take the ``Settings`` the app factory was given.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from datetime import date
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_PHONE = re.compile(r"\+?[0-9][0-9 ()\-]{2,31}")


@cache
def _kept_secret(data_dir: Path) -> str:
    """The random key kept in ``<data_dir>/keys/secret_key`` (readable by the server's user
    only), created on first use: every process on that data directory (``courtlink demo``,
    then ``serve``, a restart) signs and checks links with the same key."""
    path = data_dir / "keys" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        # A hard link appears whole or not at all, and never replaces a key another process
        # made first: both then read that one.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text(encoding="ascii").strip()


class Settings(BaseSettings):
    """All of courtlink's configuration. Field names map to ``COURTLINK_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="COURTLINK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(default=Path("var"), description="database, recordings, keys")
    database_url: str = Field(default="", description="SQLAlchemy async URL; default SQLite file")
    # PostgreSQL's connection pool, per process: a cluster's nodes together must stay under
    # the server's max_connections (100 by default), so three nodes want 10 + 20 or less each.
    database_pool_size: int = Field(default=10, ge=1)
    database_pool_overflow: int = Field(default=20, ge=0)
    # How long a request waits for a free connection before it is answered 503 "busy".
    database_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    secret_key: str = ""  # empty: one kept in the data directory (``signing_secret``)
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    ice_servers: Annotated[list[dict[str, Any]], NoDecode] = Field(default_factory=list)
    smtp_url: str = ""
    mail_from: str = "courtlink@court.example"
    # The case mailbox (server.mailbox): an SMTP endpoint taking mail for
    # ``<tracking code>@<mailbox domain>``; port 0 leaves it off. The domain is also the
    # court's own: mail from any address at it is accepted. Empty: MAIL_FROM's domain.
    mailbox_port: int = Field(default=0, ge=0, le=65535)
    mailbox_host: str = "127.0.0.1"
    mailbox_domain: str = ""
    # Largest message taken (552 above): a 20 MB document grows by a third in base64.
    mailbox_max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    redis_url: str = ""
    # With REDIS_URL, this server is a node of a cluster (server.cluster): the cluster's name
    # (several clusters may share one Redis), this node's id (empty: host name and port) and
    # the host browsers reach its media on (empty: PUBLIC_URL's host).
    cluster_name: str = "courtlink"
    node_id: str = ""
    node_address: str = ""
    court_code: str = "晋0303"
    court_name: str = "平潭区人民法院"
    timezone: str = "Asia/Shanghai"
    calendar_dir: Path | None = None
    # Run as of this day (``--today``): the court's clock reads this date at the real time of
    # day (``server.context.make_clock``), so the demo and the tests can run on any date.
    today: date | None = None
    session_hours: int = 12
    token_days: int = 30
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    intake_rate_per_hour: int = 10
    max_body_bytes: int = 1_048_576
    # A request body must arrive within this (408 otherwise): nothing waits on a slow client.
    body_read_timeout_seconds: float = Field(default=15.0, gt=0)
    signing_p12: Path | None = None
    signing_p12_password: str = ""
    invite_hours: int = 72
    recording_retention_days: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=lambda: {"mediated": 3650, "adjudicated": 3650, "withdrawn": 1095}
    )
    composite_workers: int = 1
    sms_backend: str = "log"
    max_video_kbps: int = 1500
    # Cameras published in three layers and each participant sent the one its link and tile
    # take (signaling/sfu/simulcast.py); off, everyone gets each camera's one stream.
    simulcast: bool = True
    # The court's whole judicial staff (judges and judge assistants, with or without an
    # account here): the denominator of the reports' "x% of judicial resources" figure.
    judicial_staff: int = Field(default=80, ge=0)
    # The court's help line on the party pages (a tel: link under 帮助); empty: none shown.
    help_phone: str = ""
    # The duty desk (server.desk): how long a street office's call rings one duty person
    # before the next on the roster is rung too (and, after the roster, the whole center).
    desk_ring_seconds: int = Field(default=30, ge=1, le=600)

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _parse_ice(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("recording_retention_days", mode="before")
    @classmethod
    def _parse_retention(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("help_phone", mode="after")
    @classmethod
    def _check_phone(cls, value: str) -> str:
        value = value.strip()
        if value and not _PHONE.fullmatch(value):
            raise ValueError("a phone number: digits, spaces, '-', '()' and a leading '+'")
        return value

    @property
    def help_phone_uri(self) -> str:
        """The help line as a ``tel:`` URI (RFC 3966: digits, '-' between the groups)."""
        digits = "-".join(re.findall(r"\d+", self.help_phone))
        return f"tel:{'+' if self.help_phone.startswith('+') else ''}{digits}"

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'courtlink.sqlite3').resolve()}"

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def signing_secret(self) -> str:
        """The key that signs invite links: ``SECRET_KEY``, else the one kept in the data
        directory, so a link printed by ``courtlink demo`` or sent before a restart works."""
        return self.secret_key or _kept_secret(self.data_dir.resolve())

    @property
    def court_mail_domain(self) -> str:
        """The court's mail domain, lower case: the case mailbox's, and its senders'."""
        return (self.mailbox_domain or self.mail_from.rsplit("@", 1)[-1]).strip().lower()

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    def ensure_dirs(self) -> None:
        for sub in ("", "recordings", "agreements", "keys"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
