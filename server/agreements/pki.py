"""The court's signing key: PAdES signatures on sealed PDFs (pyHanko) and their validation.

The key and certificate come from the PKCS#12 file in ``settings.signing_p12`` (password
``settings.signing_p12_password``). Where none is configured, a development CA and a signing
certificate are generated once under ``data_dir/keys`` (cryptography); documents signed with
it say so on their face, and its subject says so to any PDF reader.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from server.settings import Settings

DEV_P12 = "dev-signing.p12"
DEV_CA = "dev-ca.pem"
DEV_SUBJECT = "courtlink DEVELOPMENT signature (not valid for court use)"
_lock = threading.Lock()


@dataclass(frozen=True)
class CourtKey:
    signer: signers.SimpleSigner
    trust_roots: tuple[asn1_x509.Certificate, ...]
    development: bool
    subject: str


@dataclass(frozen=True)
class SignatureReport:
    """What a PDF's signature says. ``ok`` = intact, valid, trusted, covering the file."""

    present: bool
    intact: bool = False
    valid: bool = False
    trusted: bool = False
    whole_file: bool = False
    signer: str = ""
    signed_at: datetime | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.present and self.intact and self.valid and self.trusted and self.whole_file


def _name(common: str, org: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _generate_dev(keys: Path, court_name: str) -> None:
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("courtlink DEVELOPMENT CA", court_name)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(DEV_SUBJECT, court_name))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    keys.mkdir(parents=True, exist_ok=True)
    p12 = pkcs12.serialize_key_and_certificates(
        b"courtlink-dev", key, cert, [ca], serialization.NoEncryption()
    )
    (keys / DEV_CA).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tmp = keys / (DEV_P12 + ".tmp")
    tmp.write_bytes(p12)
    tmp.chmod(0o600)
    tmp.replace(keys / DEV_P12)  # written last: its presence means the pair is complete


def _load_p12(path: Path, password: str, development: bool) -> CourtKey:
    data = path.read_bytes()
    pw = password.encode() if password else None
    _key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
    if cert is None:
        raise ValueError(f"{path} holds no certificate")
    signer = signers.SimpleSigner.load_pkcs12(str(path), passphrase=pw)  # type: ignore[no-untyped-call]
    if signer is None:
        raise ValueError(f"cannot read the signing key in {path}")
    roots = tuple(
        asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra
    )
    if not roots:  # a self-signed court certificate is its own root
        roots = (asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),)
    subject = cert.subject.rfc4514_string()
    return CourtKey(signer, roots, development, subject)


def court_key(settings: Settings, *, create: bool = True) -> CourtKey:
    """The configured PKCS#12, else the development key (generated on first use unless
    ``create`` is false: an offline check must not mint a key it then trusts)."""
    if settings.signing_p12 is not None:
        return _load_p12(settings.signing_p12, settings.signing_p12_password, False)
    keys = settings.data_dir / "keys"
    with _lock:
        if not (keys / DEV_P12).exists():
            if not create:
                raise FileNotFoundError(f"no signing key: set COURTLINK_SIGNING_P12 or {keys}")
            _generate_dev(keys, settings.court_name)
    return _load_p12(keys / DEV_P12, "", True)


async def sign_pdf(pdf: bytes, key: CourtKey, *, reason: str, location: str) -> bytes:
    """A PAdES baseline signature over the whole file, in one incremental update."""
    meta = signers.PdfSignatureMetadata(
        field_name="CourtSeal",
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = await signers.async_sign_pdf(writer, meta, signer=key.signer)
    signed: bytes = out.getvalue()
    return signed


async def validate(pdf: bytes, trust_roots: tuple[asn1_x509.Certificate, ...]) -> SignatureReport:
    """Check the (single) signature of a sealed PDF against the court's trust roots."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # an arbitrary upload: any parse failure means "not ours"
        return SignatureReport(present=False, problem=f"not a readable PDF: {exc}")
    if not sigs:
        return SignatureReport(present=False, problem="the PDF carries no digital signature")
    sig = sigs[-1]
    try:
        status = await async_validate_pdf_signature(
            sig, ValidationContext(trust_roots=list(trust_roots))
        )
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
        return SignatureReport(present=True, problem=f"the signature cannot be checked: {exc}")
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return SignatureReport(
        present=True,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        whole_file=whole,
        signer=status.signing_cert.subject.human_friendly,
        signed_at=status.signer_reported_dt,
        problem="" if status.bottom_line and whole else "the signature does not hold",
    )
