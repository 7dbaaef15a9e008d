"""The Simplified Chinese catalogues: complete, and one wording per message.

The catalogues are one ``.po`` file per area, merged at start-up (the last file wins), so a
msgid translated differently in two areas silently shows one area's wording on the other's
pages. A string that means different things in two places needs its own msgid or a msgctxt.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import PoFileParser

from server.i18n import TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parent.parent
PO_FILES = sorted((TRANSLATIONS_DIR / "zh_CN" / "LC_MESSAGES").glob("*.po"))
_STRING = r"""(["'])((?:(?!\1).)+)\1"""
# _("...") / _('...') in templates and in Python page code.
_CALL = re.compile(r"\b_\(\s*" + _STRING + r"\s*\)")
# pgettext("context", "..."): a word that means different things in different places.
_SECOND_STRING = r"""(["'])((?:(?!\3).)+)\3"""  # groups 3 and 4 after _STRING's 1 and 2
_PCALL = re.compile(r"\bpgettext\(\s*" + _STRING + r"\s*,\s*" + _SECOND_STRING + r"\s*\)")
# _({"key": "...", ...}[value]): a status table looked up, then translated.
_DICT_CALL = re.compile(r"\b_\(\s*\{([^{}]*)\}")
_DICT_VALUE = re.compile(r""":\s*""" + _STRING)

Key = tuple[str | None, str]


class _EveryEntry(Catalog):
    """A catalogue that also keeps each entry as read: babel's own keeps only the first of
    two entries with the same msgid in one file, which would hide an in-file collision."""

    def __init__(self) -> None:
        super().__init__(locale="zh_CN")
        self.entries: list[tuple[Key, str]] = []

    def __setitem__(self, id: object, message: Message) -> None:
        if isinstance(message.id, str) and message.id:
            self.entries.append(((message.context, message.id), str(message.string or "")))
        super().__setitem__(id, message)  # type: ignore[arg-type]


def _entries(po: Path) -> list[tuple[Key, str]]:
    catalog = _EveryEntry()
    with po.open("rb") as fh:
        PoFileParser(catalog).parse(fh)
    return catalog.entries


def _translations() -> dict[Key, dict[str, set[str]]]:
    """(msgctxt, msgid) -> msgstr -> the files that give it."""
    out: dict[Key, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for po in PO_FILES:
        for key, string in _entries(po):
            out[key][string].add(po.name)
    return out


def _used_messages() -> set[Key]:
    found: set[Key] = set()
    for path in [
        *(ROOT / "web" / "templates").rglob("*.html"),
        *(ROOT / "server" / "pages").rglob("*.py"),
    ]:
        text = path.read_text(encoding="utf-8")
        found |= {(None, m.group(2)) for m in _CALL.finditer(text)}
        found |= {(m.group(2), m.group(4)) for m in _PCALL.finditer(text)}
        for table in _DICT_CALL.finditer(text):
            found |= {(None, m.group(2)) for m in _DICT_VALUE.finditer(table.group(1))}
    return found


def test_the_catalogues_are_found():
    assert len(PO_FILES) >= 5


def test_no_message_has_two_chinese_wordings():
    clashes = {
        (f"{ctx} | {msgid}" if ctx else msgid): {s: sorted(files) for s, files in strings.items()}
        for (ctx, msgid), strings in _translations().items()
        if len(strings) > 1
    }
    assert clashes == {}, (
        "one msgid, two translations (the last .po merged wins on every page): use one wording "
        f"if the meaning is the same, else a distinct msgid or pgettext context: {clashes}"
    )


def test_every_template_message_has_a_chinese_translation():
    zh = _translations()
    missing = sorted(
        f"{ctx} | {msgid}" if ctx else msgid
        for ctx, msgid in _used_messages()
        if not any(zh.get((ctx, msgid), {}))
    )
    assert missing == [], f"add these to web/translations/zh_CN/LC_MESSAGES/*.po: {missing}"


def _template_lines(pattern: str) -> list[str]:
    """Where the pages' templates match ``pattern``, as ``path:line``."""
    found = re.compile(pattern)
    return [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "web" / "templates").rglob("*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if found.search(line)
    ]


def test_a_label_is_followed_by_its_languages_colon():
    """A colon after a label is the catalogue's ``_(': ')`` (：), never an ASCII one written
    into the template: a Chinese page read "主持人: 李秀英"."""
    assert _template_lines(r"\}\}: ") == []


def test_a_message_ending_in_a_colon_is_followed_by_the_languages_gap():
    """A message ending in its colon (Chinese ：, which carries its own space) is followed by
    ``gap``, never a space written into the template: "核验页面上也会显示： 9eb4…", and the
    log-in page's "居民无需账号： 在线提交纠纷." with an ASCII full stop after the link."""
    assert _template_lines(r""":["']\) \}\} [<{]""") == []
    assert _template_lines(r"</a>[.,;:]") == []


def test_a_word_in_brackets_after_another_takes_its_languages_brackets():
    """Brackets after a catalogue word are ``aside(word, more)``, the catalogue's
    ``%(what)s (%(more)s)`` (Chinese takes full-width ones), never ASCII ones written into the
    template: a Chinese page read "待预约案件 (10)" for 待预约案件（10）, and "申请人 (法人或其他
    组织)". An aside styled apart (a muted span) has an empty word: " (…)", or "（…）"."""
    assert _template_lines(r"\}\} \(|\(\{[{%]") == []


def test_sentences_are_joined_by_the_languages_gap():
    """Two sentences of the catalogue side by side are joined by ``gap`` (nothing in Chinese,
    a space in English), never by a space in the template: a Chinese page read
    "时间均为北京时间。 空闲时段列出……"."""
    inline = r"(?:strong|em|b|span|small|a)"
    joined_by_a_space = re.compile(
        rf"""[.?!]["']\)[^{{}}<>]*\}}\}}(?:</{inline}>)*\s+(?:<{inline}\b[^>]*>)*\{{\{{ *_\("""
    )
    found = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for path in (ROOT / "web" / "templates").rglob("*.html")
        for text in [path.read_text(encoding="utf-8")]
        for m in joined_by_a_space.finditer(text)
    ]
    assert found == []


# ASCII punctuation against a Chinese character (or a Chinese stop): a Chinese sentence takes
# the full-width marks (，：（）), as the rest of the catalogue does.
_ASCII_IN_CHINESE = re.compile(r"[\u4e00-\u9fff。，…][,;:!?()]|[,;:!?()][\u4e00-\u9fff]")


def test_chinese_wording_uses_chinese_punctuation():
    """The duty desk's wording read "响铃:先响值班人员,再响全中心" and "请求金额(元)"."""
    found = sorted(
        f"{ctx or ''}|{msgid}: {string}"
        for (ctx, msgid), strings in _translations().items()
        for string in strings
        if _ASCII_IN_CHINESE.search(string)
    )
    assert found == []
    assert _ASCII_IN_CHINESE.search("金额(元)") and not _ASCII_IN_CHINESE.search("金额（元）")


def test_the_message_scan_sees_every_call_form():
    # The completeness test is only as good as its patterns; pin what they must find.
    text = """{{ _("Room") }} {{ pgettext("date range", 'To') }}
    {{ _({"none": "Not made yet", 'queued': 'Waiting'}[s]) }}"""
    found = {(None, m.group(2)) for m in _CALL.finditer(text)}
    found |= {(m.group(2), m.group(4)) for m in _PCALL.finditer(text)}
    for table in _DICT_CALL.finditer(text):
        found |= {(None, m.group(2)) for m in _DICT_VALUE.finditer(table.group(1))}
    assert found == {
        (None, "Room"),
        ("date range", "To"),
        (None, "Not made yet"),
        (None, "Waiting"),
    }


def test_a_clash_inside_one_file_is_seen_too(tmp_path):
    po = tmp_path / "one.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Room"\nmsgstr "调解室"\n\nmsgid "Room"\nmsgstr "房间"\n\n'
        'msgctxt "date range"\nmsgid "To"\nmsgstr "止"\n',
        encoding="utf-8",
    )
    assert _entries(po) == [
        ((None, "Room"), "调解室"),
        ((None, "Room"), "房间"),
        (("date range", "To"), "止"),
    ]


def test_english_page_and_chinese_default(tmp_path):
    from server.i18n import Catalogs

    catalogs = Catalogs()
    assert catalogs.gettext("zh_CN")("Log in") == "登录"
    assert catalogs.gettext("en")("Log in") == "Log in"


def test_one_english_word_two_chinese_words_by_context():
    from server.i18n import Catalogs

    catalogs = Catalogs()
    zh, en = catalogs.pgettext("zh_CN"), catalogs.pgettext("en")
    assert zh("date range", "To") == "止" and zh("message recipient", "To") == "收件人"
    assert zh("message delivery", "Failed") == "发送失败"
    assert catalogs.gettext("zh_CN")("Failed") == "失败"
    assert en("date range", "To") == "To" and en("message delivery", "Failed") == "Failed"
