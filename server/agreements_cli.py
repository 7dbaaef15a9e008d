"""``courtlink agreements ...``: check a sealed PDF offline, and prepare the embedded font.

``verify FILE`` checks the PDF's digital signature against the court's certificate (the
configured PKCS#12 or the development CA under ``data_dir/keys``) and looks its SHA-256 up
among the sealed documents in the database; exit 0 only for a sealed original with an intact,
valid signature. ``prepare-fonts`` makes the static CJK font instances ahead of the first
seal (``make run`` calls it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from server.cli import register
from server.settings import Settings


async def _verify(data: bytes, settings: Settings) -> tuple[int, dict[str, Any]]:
    import hashlib

    from server.agreements import pki
    from server.agreements.verify import UploadResult, by_sha256
    from server.context import Actor, Court
    from server.db import make_engine, make_sessionmaker
    from server.models.agreements import SealedDocument

    try:
        roots = pki.court_key(settings, create=False).trust_roots
    except (FileNotFoundError, ValueError) as exc:
        return 2, {"error": str(exc)}
    report = await pki.validate(data, roots)
    digest = hashlib.sha256(data).hexdigest()
    doc: SealedDocument | None = None
    engine = make_engine(settings)
    try:
        court = Court.build(settings, make_sessionmaker(engine))
        async with court.unit(Actor.system("cli")) as ctx:
            doc = await by_sha256(ctx.db, digest)
        database = "checked"
    except Exception as exc:  # offline means offline: say so, still report the signature
        doc, database = None, f"not reachable ({type(exc).__name__})"
    finally:
        await engine.dispose()
    out = UploadResult(doc is not None and report.ok, digest, doc, report).as_dict()
    out["database"] = database
    out["number"] = doc.case_number if doc else None
    out["kind"] = doc.kind if doc else None
    return (0 if out["original"] else 1), out


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"no such file: {path}")
        return 2
    code, out = asyncio.run(_verify(path.read_bytes(), settings))
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return code
    if "error" in out:
        print(out["error"])
        return code
    sig = out["signature"]
    print(f"file      {path}")
    print(f"sha256    {out['sha256']}")
    problem = sig["problem"] or "altered"
    holds = "intact, valid, trusted, covers the whole file"
    print(f"signature {holds if sig['ok'] else 'NOT valid: ' + problem}")
    if sig["signer"]:
        print(f"signer    {sig['signer']}")
    print(f"database  {out['database']}")
    if out["original"]:
        print(f"RESULT    sealed original: {out['kind']} {out['number']} (code {out['code']})")
    else:
        print("RESULT    NOT a sealed original of this court")
    return code


def _cmd_fonts(args: argparse.Namespace, settings: Settings) -> int:
    from server.agreements import fonts

    for weight, path in fonts.prepare(settings.data_dir / "fonts").items():
        print(f"{weight}: {path}")
    return 0


def _register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("agreements", help="mediation agreements").add_subparsers(
        dest="agreements_cmd", required=True
    )
    p = group.add_parser("verify", help="check a sealed PDF offline; exit 0 for the original")
    p.add_argument("file", help="the PDF to check")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_verify)
    p = group.add_parser("prepare-fonts", help="make the embedded CJK font ahead of time")
    p.set_defaults(func=_cmd_fonts)


register(_register)
