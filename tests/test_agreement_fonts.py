"""A sealed document is self-contained (issue 13, item 4): every font it uses is the
product's own and embedded, under its correct names, whatever fonts the server has.

The same agreement and ruling are rendered twice, each in its own process because fontconfig
reads its configuration once per process: once with the machine's font configuration emptied
(a fonts.conf with no font directory) and once with the machine's configuration plus Debian's
CJK fonts (``fonts-noto-cjk``, whose Noto Sans Mono CJK is what a generic ``monospace`` found
for the hash line). Both PDFs must embed the very same font programs, all of them the
product's Noto Sans SC, Regular and Bold, named as such.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from tests.agreement_helpers import share_fonts

ROOT = Path(__file__).resolve().parent.parent
CJK_DIR = Path("/usr/share/fonts/opentype/noto")  # Debian's fonts-noto-cjk

# Run in a fresh interpreter: renders both documents, sealed, and reports the font files the
# process's fontconfig can see (to prove the configuration is the one the test means).
RENDER = r"""
import json, sys
from pathlib import Path
from server.agreements import pdf, templates
from server.agreements.documents import Seal, sample_context
from weasyprint.text.ffi import ffi, fontconfig

out, font_dir = Path(sys.argv[1]), Path(sys.argv[2])
ctx = sample_context()
ctx["development"] = True
ctx["content_hash"] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
url = "https://court.example/v/ABCD-2345"
ctx["seal"] = Seal("ABCD-2345", pdf.qr_data_uri(url), url, "开发用证书")
for kind in ("agreement", "ruling"):
    html = templates.compiled(templates.builtin_body(kind)).render(ctx)
    (out / f"{kind}.pdf").write_bytes(pdf.render_pdf(html, font_dir))
# An admin's template (or a database copy of an old built-in one) naming generic and
# installed families: still the product's font, from nothing else.
probe = "".join(
    f'<p style="font-family: {family}">内容摘要 SHA-256：9f86d081 调解协议书 Aa—</p>'
    for family in ("monospace", "serif", "sans-serif", "'Noto Sans Mono CJK SC'",
                   "'DejaVu Sans'", "'Noto Serif CJK SC'")
)
(out / "probe.pdf").write_bytes(pdf.render_pdf(f"<html><body>{probe}</body></html>", font_dir))
config = fontconfig.FcInitLoadConfigAndFonts()
found = fontconfig.FcConfigGetFonts(config, fontconfig.FcSetSystem)
files = []
string = ffi.new("FcChar8 **")
for i in range(found.nfont if found != ffi.NULL else 0):
    if fontconfig.FcPatternGetString(found.fonts[i], b"file", 0, string) == 0:
        files.append(ffi.string(string[0]).decode())
print(json.dumps(files))
"""


def _fonts_conf(path: Path, body: str) -> Path:
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig>\n{body}\n<cachedir>{path.parent / 'fc-cache'}</cachedir>\n</fontconfig>\n"
    )
    return path


def _render(out: Path, fonts_conf: Path, font_dir: Path) -> list[str]:
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FONTCONFIG")}
    env["FONTCONFIG_FILE"] = str(fonts_conf)
    done = subprocess.run(
        [sys.executable, "-c", RENDER, str(out), str(font_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    files: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return files


def _font_dicts(resources: Any) -> list[Any]:
    """Every font dictionary reachable from a resource dictionary, in form XObjects too."""
    found: list[Any] = []
    if resources is None:
        return found
    resources = resources.get_object()
    for ref in (resources.get("/Font") or {}).values():
        found.append(ref.get_object())
    for ref in (resources.get("/XObject") or {}).values():
        xobject = ref.get_object()
        found.extend(_font_dicts(xobject.get("/Resources")))
    return found


PDF_NAMES = {"Noto-Sans-SC", "Noto-Sans-SC-Bold"}  # what WeasyPrint writes for the family


def embedded(pdf_bytes: bytes) -> dict[str, dict[str, str]]:
    """Per font in the PDF (subset prefix stripped): the names in its embedded font program
    and the digest of that program. A font without a program (a viewer's substitute) is
    reported with ``embedded: no``."""
    out: dict[str, dict[str, str]] = {}
    for page in PdfReader(io.BytesIO(pdf_bytes)).pages:
        for font in _font_dicts(page.get("/Resources")):
            for d in font.get("/DescendantFonts") or [font]:
                desc = d.get_object().get("/FontDescriptor")
                base = str(d.get_object().get("/BaseFont", ""))
                name = base.lstrip("/").split("+", 1)[-1]
                if desc is None:
                    out[name] = {"embedded": "no"}
                    continue
                desc = desc.get_object()
                program = next(
                    (desc[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in desc),
                    None,
                )
                if program is None:
                    out[name] = {"embedded": "no"}
                    continue
                data = program.get_object().get_data()
                table = TTFont(io.BytesIO(data))["name"]
                out[name] = {
                    "embedded": "yes",
                    "family": str(table.getDebugName(1)),
                    "subfamily": str(table.getDebugName(2)),
                    "full": str(table.getDebugName(4)),
                    "postscript": str(table.getDebugName(6)),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
    return out


def test_documents_embed_the_same_product_fonts_whatever_the_machine_has(tmp_path: Path) -> None:
    cjk = sorted(CJK_DIR.glob("NotoSans*CJK*"))
    if not cjk:
        pytest.fail(
            f"Debian's fonts-noto-cjk is not installed (nothing under {CJK_DIR}): "
            "run `make cjk-fonts` (`make test` does)"
        )
    font_dir = tmp_path / "fonts"
    share_fonts(font_dir)

    empty_conf = _fonts_conf(tmp_path / "empty.conf", "")
    system_conf = _fonts_conf(
        tmp_path / "cjk.conf", f"<include>/etc/fonts/fonts.conf</include>\n<dir>{CJK_DIR}</dir>"
    )
    seen_empty = _render(tmp_path / "empty", empty_conf, font_dir)
    seen_cjk = _render(tmp_path / "cjk", system_conf, font_dir)
    # The two configurations are what they claim to be.
    assert seen_empty == []
    assert any(f.startswith(str(CJK_DIR)) for f in seen_cjk), seen_cjk[:20]

    with TTFont(str(next(font_dir.glob("NotoSansSC-400-*.ttf")))) as regular:
        cmap = regular.getBestCmap()
    for kind in ("agreement", "ruling"):
        bare = embedded((tmp_path / "empty" / f"{kind}.pdf").read_bytes())
        full = embedded((tmp_path / "cjk" / f"{kind}.pdf").read_bytes())
        assert bare, kind
        # The same fonts, byte for byte, with or without the machine's fonts.
        assert full == bare, (kind, sorted(full), sorted(bare))
        names = {(f["family"], f["subfamily"], f["full"], f["postscript"]) for f in bare.values()}
        assert all(f["embedded"] == "yes" for f in bare.values()), bare
        assert names == {
            ("Noto Sans SC", "Regular", "Noto Sans SC Regular", "NotoSansSC-Regular"),
            ("Noto Sans SC", "Bold", "Noto Sans SC Bold", "NotoSansSC-Bold"),
        }, (kind, bare)
        # The PDF's own font list names them as the fonts do, not by a made-up CSS family.
        assert set(bare) == PDF_NAMES, (kind, sorted(bare))
        # And so the very same file (WeasyPrint writes no date of its own).
        assert (tmp_path / "empty" / f"{kind}.pdf").read_bytes() == (
            tmp_path / "cjk" / f"{kind}.pdf"
        ).read_bytes(), kind
        # No character fell to a missing glyph: the product font has every one the
        # document shows (the full-width colon and the dash of the development notice too).
        text = "".join(
            page.extract_text() for page in PdfReader(tmp_path / "empty" / f"{kind}.pdf").pages
        )
        assert "：" in text and "SHA-256" in text, text
        assert {c for c in text if not c.isspace() and ord(c) not in cmap} == set()

    probe = embedded((tmp_path / "cjk" / "probe.pdf").read_bytes())
    assert probe and set(probe) <= PDF_NAMES, sorted(probe)
    assert {f["family"] for f in probe.values()} == {"Noto Sans SC"}, probe
