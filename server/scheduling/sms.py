"""SMS through a pluggable backend, chosen by ``COURTLINK_SMS_BACKEND``.

``log`` (the default) only writes the message to the log: a court connects its own SMS
gateway by naming a class ``package.module:ClassName`` with ``__init__(settings)`` and
``async send(phone, text)`` that raises on failure (the sender then retries with backoff).
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from server.settings import Settings

log = logging.getLogger(__name__)


class SmsBackend(Protocol):
    async def send(self, phone: str, text: str) -> None: ...


class LogSms:
    """Writes the message to the log and reports success."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, phone: str, text: str) -> None:
        masked = phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
        log.info("SMS to %s: %s", masked, text)


def load_backend(settings: Settings) -> SmsBackend:
    name = settings.sms_backend or "log"
    if name == "log":
        return LogSms(settings)
    module_name, _, attr = name.partition(":")
    if not attr:
        raise ValueError("COURTLINK_SMS_BACKEND is 'log' or 'package.module:ClassName'")
    backend: SmsBackend = getattr(importlib.import_module(module_name), attr)(settings)
    return backend
