"""Every message a template or page asks to translate has a Simplified Chinese translation."""

from __future__ import annotations

import re
from pathlib import Path

from server.i18n import TRANSLATIONS_DIR, load_messages

ROOT = Path(__file__).resolve().parent.parent
# _("...") / _('...') in templates and in Python page code.
_CALL = re.compile(r"""\b_\(\s*(["'])((?:(?!\1).)+)\1\s*\)""")


def _used_messages() -> set[str]:
    found: set[str] = set()
    for path in [
        *(ROOT / "web" / "templates").rglob("*.html"),
        *(ROOT / "server" / "pages").rglob("*.py"),
    ]:
        for match in _CALL.finditer(path.read_text(encoding="utf-8")):
            found.add(match.group(2))
    return found


def test_every_template_message_has_a_chinese_translation():
    zh = load_messages(TRANSLATIONS_DIR, "zh_CN")
    missing = sorted(m for m in _used_messages() if not zh.get(m))
    assert missing == [], f"add these to web/translations/zh_CN/LC_MESSAGES/*.po: {missing}"


def test_english_page_and_chinese_default(tmp_path):
    from server.i18n import Catalogs

    catalogs = Catalogs()
    assert catalogs.gettext("zh_CN")("Log in") == "登录"
    assert catalogs.gettext("en")("Log in") == "Log in"
