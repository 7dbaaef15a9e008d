"""The main navigation: every role, on every page without a path parameter, sees each entry
once. A page that extends the base navigation must not add an entry the base already has
(the schedule pages once did, and everyone saw "排期" twice)."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

import pytest

from server.routes import PAGES
from tests.helpers import login, make_user

# Every HTML page reachable without an id in its path; files, feeds and the health check
# are not pages with a navigation.
_NOT_PAGES = ("/healthz", "/reports.csv")
PATHS = [
    r.path for r in PAGES if r.method == "GET" and "{" not in r.path and r.path not in _NOT_PAGES
]

# (username, role, office)
ROLES = [
    ("judge", "judge", "center"),
    ("mediator", "mediator", "center"),
    ("clerk", "clerk", "center"),
    ("admin", "admin", "center"),
    ("staff", "office_staff", "shaping"),
    (None, None, None),
]


class _MainNav(HTMLParser):
    """The links of the header's navigation (the first ``<nav>`` in ``<header>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._header = self._inside = self._done = False
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "header":
            self._header = True
        elif tag == "nav" and self._header and not self._done:
            self._inside = True
        elif tag == "a" and self._inside:
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._inside and self._href is not None:
            self.links.append((" ".join("".join(self._text).split()), self._href))
            self._href = None
        elif tag == "nav" and self._inside:
            self._inside, self._done = False, True
        elif tag == "header":
            self._header = False

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def main_nav(html: str) -> list[tuple[str, str]]:
    parser = _MainNav()
    parser.feed(html)
    return parser.links


def test_the_parser_sees_a_duplicate():
    html = (
        '<header class="top"><nav><a href="/cases">案件</a><a href="/schedule">排期</a>'
        '<a href="/schedule">排期</a></nav></header><nav><a href="/x">x</a></nav>'
    )
    assert main_nav(html) == [("案件", "/cases"), ("排期", "/schedule"), ("排期", "/schedule")]


@pytest.mark.parametrize(("username", "role", "office"), ROLES)
async def test_no_role_sees_a_navigation_entry_twice(client, username, role, office):
    if username is not None:
        await make_user(client, username, role, office)
        await login(client, username)
    seen: dict[str, list[tuple[str, str]]] = {}
    for path in PATHS:
        for lang in ("zh_CN", "en"):
            resp = await client.get(path, params={"lang": lang})
            if resp.status != 200 or resp.content_type != "text/html":
                continue  # a page this role may not open, or a redirect to the login
            links = main_nav(await resp.text())
            labels = Counter(label for label, _ in links)
            hrefs = Counter(href for _, href in links)
            twice = {k for k, n in (labels + hrefs).items() if n > 1}
            assert not twice, (username, path, lang, links)
            seen[f"{lang} {resp.url.path}"] = links
    # The test looked at real navigations, the schedule's landing page among them.
    assert any(path.split(" ")[1].startswith("/schedule") for path in seen) or username is None
    assert len(seen) >= 6 and all(seen.values()), seen
