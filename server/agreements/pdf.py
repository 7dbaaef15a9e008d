"""Rendering a document to PDF with WeasyPrint, with the CJK font embedded, and its QR code.

WeasyPrint is CPU-bound and blocking, so the app calls ``render_pdf_async``, which runs it in
a worker thread; one render at a time, because Pango and fontconfig are not known to be
thread-safe.
"""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import segno
from pypdf import PdfReader
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from server.agreements import fonts
from server.agreements.documents import RenderInput, context
from server.agreements.templates import compiled

_render_lock = threading.Lock()


def qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=1))


def render_html(body: str, inp: RenderInput) -> str:
    return compiled(body).render(context(inp))


def render_pdf(html: str, font_dir: Path) -> bytes:
    font_config = FontConfiguration()  # @font-face in a stylesheet needs one, shared
    css = CSS(string=fonts.font_css(fonts.prepare(font_dir)), font_config=font_config)
    with _render_lock:
        pdf: bytes = HTML(string=html, base_url=str(font_dir)).write_pdf(
            stylesheets=[css], font_config=font_config
        )
    return pdf


async def render_pdf_async(html: str, font_dir: Path) -> bytes:
    return await asyncio.to_thread(render_pdf, html, font_dir)


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)
