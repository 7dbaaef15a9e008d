"""Translations: Simplified Chinese by default, English on request.

Message ids are English; ``web/translations/<lang>/LC_MESSAGES/*.po`` hold the catalogues,
one file per area (core, sessions, scheduling...), merged and read at start-up (no compile
step). The merge lets the last file win, so a msgid must have one wording in every file; a
word that means different things in two places (a date range's "To", a message's "To") takes
a ``msgctxt`` and is looked up with ``pgettext(context, msgid)``. The language comes from
``?lang=``, then the ``cl_lang`` cookie, then the default ``zh_CN``.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGS = ("zh_CN", "en")
DEFAULT_LANG = "zh_CN"
LANG_COOKIE = "cl_lang"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "web" / "translations"


def _load_po(path: Path, lang: str) -> Translations:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def load_messages(directory: Path, lang: str) -> dict[str, str]:
    """Every msgid without a context -> msgstr of one language (for the completeness tests);
    a msgctxt entry is left out, as plain ``_()`` never finds it."""
    out: dict[str, str] = {}
    for po in sorted((directory / lang / "LC_MESSAGES").glob("*.po")):
        with po.open("rb") as fh:
            for message in read_po(fh, locale=lang):
                if message.id and isinstance(message.id, str) and message.context is None:
                    out[message.id] = str(message.string or "")
    return out


@functools.cache
def _merged(directory: Path) -> dict[str, Translations]:
    """The catalogues of ``directory``, read once per process: every app the process builds
    (tests build hundreds) shares them, and parsing the .po files is most of building one."""
    by_lang: dict[str, Translations] = {}
    for lang in LANGS:
        merged = Translations()
        for po in sorted((directory / lang / "LC_MESSAGES").glob("*.po")):
            merged.merge(_load_po(po, lang))
        by_lang[lang] = merged
    return by_lang


class Catalogs:
    def __init__(self, directory: Path = TRANSLATIONS_DIR) -> None:
        self._by_lang = _merged(directory)

    def gettext(self, lang: str) -> Callable[[str], str]:
        return self._by_lang.get(lang, self._by_lang[DEFAULT_LANG]).gettext

    def ngettext(self, lang: str) -> Callable[[str, str, int], str]:
        return self._by_lang.get(lang, self._by_lang[DEFAULT_LANG]).ngettext

    def pgettext(self, lang: str) -> Callable[[str, str], str]:
        translations = self._by_lang.get(lang, self._by_lang[DEFAULT_LANG])

        # babel types pgettext's result loosely (str | object); a catalogue entry is a str.
        def lookup(context: str, message: str) -> str:
            return str(translations.pgettext(context, message))

        return lookup


def pick_lang(asked: str | None, remembered: str | None) -> str:
    """The language to answer in: the one asked for (``?lang=``), else the remembered one
    (the ``cl_lang`` cookie), else the default."""
    lang = asked or remembered or DEFAULT_LANG
    if lang in ("zh", "zh-CN", "zh_cn"):
        lang = "zh_CN"
    return lang if lang in LANGS else DEFAULT_LANG
