"""Screen sizes and layout facts for the browser tests (issue 14): the desktop and the phone
the product is checked at, opening a page at one of them, the layout facts the tests assert
(boxes inside the viewport, overlap, tap sizes, inner scroll boxes), and axe-core.

- ``DESKTOP`` (1366x768) and ``PHONE`` (375x812, mobile, touch) are Playwright
  ``browser.new_context`` keyword arguments; ``open_at(browser, server, PHONE)`` opens a page
  in a fresh context of that size whose relative URLs resolve against the live server.
- ``box_inside_viewport``, ``overlap``, ``small_tap_targets``, ``scrolls_internally`` read
  the page as laid out; they assert nothing themselves, so a test says what it expects.
- ``axe_violations(page)`` injects axe-core from the test tree (tests/a11y/node_modules,
  installed by ``make axe``; the product never loads it) and returns its serious and critical
  violations, each with the rule, its help text and the offending elements' selectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page

from tests.e2e.conftest import LiveServer

DESKTOP: dict[str, Any] = {"viewport": {"width": 1366, "height": 768}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 375, "height": 812},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}
SIZES: dict[str, dict[str, Any]] = {"desktop": DESKTOP, "phone": PHONE}

# The smallest tap target the product offers on a touch screen (issue 14 item 5).
MIN_TAP = 44

AXE_JS = (
    Path(__file__).resolve().parent.parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
)


async def open_at(
    browser: Browser,
    server: LiveServer,
    size: dict[str, Any] = DESKTOP,
    lang: str = "zh_CN",
    **context_args: Any,
) -> Page:
    """A page in a fresh context at ``size`` (``DESKTOP`` or ``PHONE``). The caller closes it
    with ``await page.context.close()``. Dialogs (confirm()) are accepted, as a person would."""
    context = await browser.new_context(
        base_url=server.url,
        locale="zh-CN" if lang == "zh_CN" else "en-US",
        **{**size, **context_args},
    )
    if lang != "zh_CN":
        await context.add_cookies([{"name": "cl_lang", "value": lang, "url": server.url}])
    page = await context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def _target(page: Page, target: str | Locator) -> Locator:
    return page.locator(target) if isinstance(target, str) else target


async def box_of(page: Page, target: str | Locator) -> dict[str, float]:
    """The element's box (x, y, width, height) in CSS pixels relative to the viewport."""
    box = await _target(page, target).bounding_box()
    assert box is not None, f"{target} is not laid out (hidden or detached)"
    return box


async def box_inside_viewport(page: Page, target: str | Locator) -> bool:
    """True when the element is entirely on the first screen as the page now stands: not
    below the fold, not scrolled above it, not off either side."""
    box = await box_of(page, target)
    size = await page.evaluate("() => [window.innerWidth, window.innerHeight]")
    return (
        box["x"] >= -0.5
        and box["y"] >= -0.5
        and box["x"] + box["width"] <= size[0] + 0.5
        and box["y"] + box["height"] <= size[1] + 0.5
    )


async def overlap(page: Page, a: str | Locator, b: str | Locator) -> bool:
    """True when the two elements' boxes share any area (touching edges do not count)."""
    one, two = await box_of(page, a), await box_of(page, b)
    width = min(one["x"] + one["width"], two["x"] + two["width"]) - max(one["x"], two["x"])
    height = min(one["y"] + one["height"], two["y"] + two["height"]) - max(one["y"], two["y"])
    return width > 0.5 and height > 0.5


# Every visible button and link (and button-like input/summary) under the region, with its
# rendered size. Hidden ones (display:none, zero size, or off the page's top/left edge like a
# skip link until focused) are left out: nobody taps them.
_TAP_TARGETS = """(region) => [...region.querySelectorAll(
    'button, a[href], input[type=submit], input[type=button], input[type=checkbox],'
    + ' input[type=radio], select, summary, [role=button]')]
  .filter(el => { const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden'
      && r.right + scrollX > 0 && r.bottom + scrollY > 0; })
  .map(el => { const r = el.getBoundingClientRect();
    return { text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim(),
             tag: el.tagName.toLowerCase(), width: r.width, height: r.height }; })"""


async def tap_targets(page: Page, region: str = "body") -> list[dict[str, Any]]:
    """Every visible control in ``region`` with its text, tag, width and height."""
    return await page.locator(region).first.evaluate(_TAP_TARGETS)


async def small_tap_targets(
    page: Page, region: str = "body", minimum: float = MIN_TAP
) -> list[dict[str, Any]]:
    """The visible controls in ``region`` narrower or shorter than ``minimum`` CSS pixels;
    an empty list is what a touch screen wants."""
    return [
        t
        for t in await tap_targets(page, region)
        if t["width"] < minimum - 0.5 or t["height"] < minimum - 0.5
    ]


async def min_tap_size(page: Page, region: str = "body") -> float:
    """The smallest width or height among the visible controls in ``region``."""
    targets = await tap_targets(page, region)
    assert targets, f"no visible control in {region}"
    return min(min(t["width"], t["height"]) for t in targets)


_SCROLLS = """(el) => { const s = getComputedStyle(el);
  const scrollY = /(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight + 1;
  const scrollX = /(auto|scroll)/.test(s.overflowX) && el.scrollWidth > el.clientWidth + 1;
  return scrollY || scrollX; }"""

# Every element below the region that is an inner scroll box, by tag, id and class.
INNER_SCROLLERS_JS = f"""(region) => [region, ...region.querySelectorAll('*')]
  .filter(el => el !== document.documentElement && el !== document.body)
  .filter({_SCROLLS})
  .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
       + [...el.classList].map(c => '.' + c).join(''))"""


async def scrolls_internally(page: Page, target: str | Locator) -> bool:
    """True when the element is a scroll box of its own: overflow auto/scroll and content
    taller (or wider) than itself, so part of it is hidden inside the page."""
    return await _target(page, target).first.evaluate(_SCROLLS)


async def inner_scrollers(page: Page, region: str = "body") -> list[str]:
    """Every inner scroll box in ``region`` (the region included), as tag#id.class."""
    return await page.locator(region).first.evaluate(INNER_SCROLLERS_JS)


def require_axe() -> Path:
    """axe-core's script in the test tree; FAILS (never skips) when it is missing, naming
    the make target that installs it, so a fresh clone cannot pass without the check."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} missing: run `make axe` (npm ci --prefix tests/a11y)")
    return AXE_JS


# axe.min.js defines window.axe when no module loader is around; run as a script body.
_AXE_SOURCE_WRAPPER = "() => { SOURCE\n; return typeof window.axe; }"

_RUN_AXE = """async (impacts) => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.filter(v => impacts.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({ target: n.target.join(' '), html: n.html.slice(0, 200),
                               summary: n.failureSummary })) }));
}"""


async def axe_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """axe-core's violations of the given impacts on the page as it stands: a list of
    {id, impact, help, nodes: [{target, html, summary}]}; empty when the page passes."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        # The product's CSP forbids inline scripts, which is what add_script_tag(path=)
        # inserts; evaluating the file through the DevTools protocol is not subject to it,
        # so the page is checked under its real CSP (bypass_csp would change the page).
        await page.evaluate(_AXE_SOURCE_WRAPPER.replace("SOURCE", require_axe().read_text()))
    return await page.evaluate(_RUN_AXE, list(impacts))


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as lines a failure message can show."""
    lines = []
    for v in violations:
        lines.append(f"{v['impact']} {v['id']}: {v['help']}")
        lines.extend(f"    {n['target']}  {n['html']}" for n in v["nodes"][:5])
    return "\n".join(lines)
