"""WeasyPrint with the product's fonts and assets only (see ``server.agreements.pdf``).

Its own module because importing WeasyPrint (Pango, fontconfig and cairo through cffi) costs
~0.8 s of CPU, and most processes never render a PDF: the server imports this at its first
seal, not at start, and neither do the CLI commands nor each process a test starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import CSS, HTML
from weasyprint.text.ffi import ffi, fontconfig, pangoft2
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from server.agreements import fonts

_render_lock = threading.Lock()
log = logging.getLogger(__name__)
# The inline images documents use: signatures (PNG) and the verification QR code (SVG).
INLINE_TYPES = frozenset({"image/png", "image/svg+xml"})


if not hasattr(fontconfig, "FcConfigCreate"):  # WeasyPrint does not declare it (v70)
    ffi.cdef("FcConfig * FcConfigCreate (void);")


class ProductFonts(FontConfiguration):  # type: ignore[misc]  # WeasyPrint ships no type hints
    """WeasyPrint's font configuration with the machine's fonts taken out: Pango gets an empty
    fontconfig configuration, to which the ``@font-face`` rules then add the product's font.

    With no other font to choose, every family a template names (an admin's ``monospace``
    too, or an old template copy in the database) and every fallback for a glyph resolves to
    the product's font, so the same document embeds the same fonts on any server. A glyph the
    product font lacks shows as its .notdef box instead of a server font's glyph; the
    built-in documents use none (tests/test_agreement_fonts.py).
    """

    def __init__(self) -> None:
        super().__init__()
        empty = fontconfig.FcConfigCreate()
        if empty == ffi.NULL:
            raise MemoryError("fontconfig could not create a configuration")
        pangoft2.pango_fc_font_map_set_config(ffi.cast("PangoFcFontMap *", self.font_map), empty)
        fontconfig.FcConfigDestroy(empty)  # the font map keeps its own reference
        self._config = empty  # where add_font_face adds the @font-face files


class AssetFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    """WeasyPrint's fetcher limited to the given files and inline images; no network, no
    other file, no redirect."""

    def __init__(self, files: Iterable[Path]) -> None:
        super().__init__(timeout=1, allowed_protocols=("file", "data"), allow_redirects=False)
        self._files = frozenset(p.resolve() for p in files)

    def _allowed(self, url: str) -> bool:
        scheme, _, rest = url.partition(":")
        scheme = scheme.lower()
        if scheme == "data":
            media_type = rest.split(",", 1)[0].split(";", 1)[0].strip().lower()
            return media_type in INLINE_TYPES
        if scheme == "file":
            parts = urlsplit(url)
            if parts.netloc not in ("", "localhost"):
                return False
            return Path(url2pathname(parts.path)).resolve() in self._files
        return False

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if not self._allowed(url):
            log.warning("document asks for %s, which is not one of its own assets", url[:120])
            raise ValueError("not one of the document's own assets")
        response: URLFetcherResponse = super().fetch(url, headers)
        return response


def render_pdf(html: str, font_dir: Path) -> bytes:
    font_config = ProductFonts()  # @font-face in a stylesheet needs one, shared
    font_files = fonts.prepare(font_dir)
    fetcher = AssetFetcher(font_files.values())
    css = CSS(string=fonts.font_css(font_files), font_config=font_config, url_fetcher=fetcher)
    with _render_lock:
        pdf: bytes = HTML(string=html, base_url=str(font_dir), url_fetcher=fetcher).write_pdf(
            stylesheets=[css], font_config=font_config
        )
    return pdf
