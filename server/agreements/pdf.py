"""Rendering a document to PDF with WeasyPrint, with the CJK font embedded, and its QR code.

WeasyPrint is CPU-bound and blocking, so the app calls ``render_pdf_async``, which runs it in
a worker thread; one render at a time, because Pango and fontconfig are not known to be
thread-safe.

The renderer (``server.agreements.weasy``, imported at the first render) fetches only the
product's own assets (``AssetFetcher``): the font files made by
``fonts.prepare`` and the images a document carries inline (the signatures' PNGs, the QR
code's SVG). A template is an admin's text, and WeasyPrint would otherwise read any URL it
names into the court-signed PDF: ``<a rel="attachment" href="file:///...">`` attaches a
server file (the recordings' signing key, say), ``<img src="http://...">`` makes the server
call out. Anything else is refused, and WeasyPrint renders the document without it.

Fonts are the product's own in the same way (``ProductFonts``): WeasyPrint's font
configuration would start from the machine's fontconfig, so a generic family (``monospace``,
``serif``) or a glyph missing from the product font would be filled from whatever the server
has installed, and the sealed PDF would depend on the server it was made on (issue 13).
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import segno
from pypdf import PdfReader

from server.agreements.documents import RenderInput, context
from server.agreements.templates import compiled


def qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=1))


def render_html(body: str, inp: RenderInput) -> str:
    return compiled(body).render(context(inp))


def render_pdf(html: str, font_dir: Path) -> bytes:
    from server.agreements import weasy  # WeasyPrint loads at the first render (its module)

    return weasy.render_pdf(html, font_dir)


async def render_pdf_async(html: str, font_dir: Path) -> bytes:
    return await asyncio.to_thread(render_pdf, html, font_dir)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)
