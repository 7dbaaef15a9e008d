"""The PDF renderer fetches nothing but the product's own fonts and the images the document
carries inline (issue 12, finding 5): an admin's template linking a server file as an
attachment, or an image on the network, yields a PDF with no attachment and no request made.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from pypdf import PdfReader

from server.agreements import pdf, templates
from server.web.keys import SETTINGS
from tests.agreement_helpers import bearer, build_world, share_fonts, signature_png
from tests.test_agreement_access import _seal

SECRET = b"-----BEGIN PRIVATE KEY----- not-for-any-document"


def attached(data: bytes) -> list[bytes]:
    """Every file the PDF carries: in the EmbeddedFiles name tree and in the pages' file
    attachment annotations (where WeasyPrint puts ``<a rel="attachment">``)."""
    reader = PdfReader(io.BytesIO(data))
    out = [b for files in reader.attachments.values() for b in files]
    for page in reader.pages:
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            if annot.get("/Subtype") == "/FileAttachment":
                spec = annot["/FS"].get_object()
                out.append(spec["/EF"]["/F"].get_object().get_data())
    return out


def fonts_embedded(data: bytes) -> list[str]:
    """The names of the fonts embedded in the PDF (the product's own font, fetched from its
    file like any asset)."""
    names = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            for d in font.get_object().get("/DescendantFonts", []):
                desc = d.get_object()["/FontDescriptor"].get_object()
                if "/FontFile2" in desc or "/FontFile3" in desc:
                    names.append(str(desc["/FontName"]))
    return names


def images(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


async def _web_server(aiohttp_server: Any) -> tuple[Any, list[str]]:
    """A server on the loopback that notes every request it gets."""
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(body=SECRET, content_type="image/png")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", anything)
    return await aiohttp_server(app), seen


def _hostile(secret: Path, port: int) -> str:
    # An inline SVG is allowed (the QR code is one); what it links to is not.
    svg = quote(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        f'<image href="http://127.0.0.1:{port}/in-svg.png" width="10" height="10"/>'
        f'<image href="{secret.as_uri()}" width="10" height="10"/></svg>'
    )
    return (
        f'<img src="data:image/svg+xml,{svg}" alt="">'
        f'<p>正文</p><a rel="attachment" href="{secret.as_uri()}">附件</a>'
        f'<a rel="attachment" href="http://127.0.0.1:{port}/key.pem">附件二</a>'
        f'<img src="http://127.0.0.1:{port}/pixel.png" alt="">'
        f'<img src="{secret.as_uri()}" alt="">'
        '<link rel="stylesheet" href="file:///etc/passwd">'
    )


async def test_the_renderer_fetches_no_file_and_no_url(tmp_path, aiohttp_server):
    secret = tmp_path / "recordings-ed25519.pem"
    secret.write_bytes(SECRET)
    server, seen = await _web_server(aiohttp_server)
    share_fonts(tmp_path / "fonts")
    html = "<html><body>" + _hostile(secret, server.port) + "</body></html>"
    out = await pdf.render_pdf_async(html, tmp_path / "fonts")
    assert out[:5] == b"%PDF-"
    assert attached(out) == []
    assert SECRET not in out
    assert seen == []
    # What the documents need still renders: the CJK font and an inline PNG (a signature).
    png = "data:image/png;base64," + base64.b64encode(signature_png()).decode()
    out = await pdf.render_pdf_async(f'<p>调解协议书</p><img src="{png}">', tmp_path / "fonts")
    assert images(out) == 1
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(out)).pages)
    assert "调解协议书" in text
    assert fonts_embedded(out) and all("Noto-Sans-SC" in f for f in fonts_embedded(out))


async def test_an_admins_template_cannot_attach_a_server_file(client, aiohttp_server):
    """The probe's path: an admin's template with a file attachment link, sealed as usual."""
    w = await build_world(client)
    settings = client.app[SETTINGS]
    secret = settings.data_dir / "keys-probe.pem"  # a real file on the server
    secret.write_bytes(SECRET)
    server, seen = await _web_server(aiohttp_server)
    share_fonts(settings.data_dir / "fonts")
    admin = {"Authorization": f"Bearer {await bearer(client, 'admin')}"}
    body = templates.builtin_body("agreement").replace(
        "</h1>", "</h1>" + _hostile(secret, server.port), 1
    )
    new = {"kind": "agreement", "name": "借贷专用", "case_type": "借贷", "body": body}
    resp = await client.post("/api/v1/agreement-templates", json=new, headers=admin)
    assert resp.status == 201, await resp.text()
    agreement = await _seal(client, w, await bearer(client, "med"))
    clerk = {"Authorization": f"Bearer {await bearer(client, 'clerk')}"}
    resp = await client.get(agreement["documents"][0]["download_url"], headers=clerk)
    assert resp.status == 200
    sealed = await resp.read()
    assert attached(sealed) == []
    assert SECRET not in sealed
    assert seen == []
