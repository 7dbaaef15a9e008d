"""The server's Ed25519 key that signs recording manifests.

Created on first use under ``<data_dir>/keys`` (private key readable by the server's user
only); the public key is shown on the admin page so anyone holding a copy of a recording can
check its manifest without trusting the server that serves it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

PRIVATE_NAME = "recordings-ed25519.pem"
PUBLIC_NAME = "recordings-ed25519.pub.pem"


def key_paths(data_dir: Path) -> tuple[Path, Path]:
    keys = data_dir / "keys"
    return keys / PRIVATE_NAME, keys / PUBLIC_NAME


def load_or_create(data_dir: Path) -> Ed25519PrivateKey:
    private_path, public_path = key_paths(data_dir)
    if private_path.exists():
        key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{private_path} is not an Ed25519 key")
        return key
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create(data_dir)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
        fh.flush()
        os.fsync(fh.fileno())
    public_path.write_bytes(public_pem(key.public_key()))
    return key


def load_public(data_dir: Path) -> Ed25519PublicKey | None:
    private_path, public_path = key_paths(data_dir)
    if private_path.exists():
        return load_or_create(data_dir).public_key()
    if public_path.exists():
        key = serialization.load_pem_public_key(public_path.read_bytes())
        if isinstance(key, Ed25519PublicKey):
            return key
    return None


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


@dataclass(frozen=True)
class Published:
    """The public key as the admin page and the API show it."""

    fingerprint: str
    pem: str


def published(data_dir: Path) -> Published:
    """The signing key's public half, for anyone to check manifests with (created on first
    need, as when sealing)."""
    key = load_or_create(data_dir).public_key()
    return Published(fingerprint(key), public_pem(key).decode())


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode()


def check(key: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True
