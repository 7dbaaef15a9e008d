"""A finger on a phone's screen, for the browser tests: Playwright's touchscreen only taps,
and signing on the pad takes strokes."""

from __future__ import annotations

import itertools

from playwright.async_api import CDPSession, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.e2e.viewports import box_of

# Two strokes across a signature pad, as fractions of its width and height.
STROKES = (
    [(0.1, 0.7), (0.25, 0.2), (0.4, 0.75), (0.55, 0.3)],
    [(0.6, 0.6), (0.75, 0.25), (0.9, 0.65)],
)


def pad_strokes(box: dict[str, float]) -> list[list[tuple[float, float]]]:
    """``STROKES`` on the page, across a pad at ``box`` (a bounding box)."""
    return [
        [(box["x"] + box["width"] * x, box["y"] + box["height"] * y) for x, y in stroke]
        for stroke in STROKES
    ]


async def finger_stroke(cdp: CDPSession, points: list[tuple[float, float]]) -> None:
    """One finger down at the first point, dragged through the others, lifted: the touch
    events a phone's screen sends (Playwright's touchscreen only taps)."""
    x, y = points[0]
    await cdp.send("Input.dispatchTouchEvent",
                   {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})  # fmt: skip
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for step in range(1, 9):  # a finger moves through the points in between
            px, py = x0 + (x1 - x0) * step / 8, y0 + (y1 - y0) * step / 8
            await cdp.send("Input.dispatchTouchEvent",
                           {"type": "touchMove", "touchPoints": [{"x": px, "y": py}]})  # fmt: skip
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def sign_by_finger(page: Page) -> None:
    """Two strokes across the signature pad, by touch."""
    canvas = page.locator("canvas.signature-pad")
    await canvas.scroll_into_view_if_needed()
    box = await box_of(page, canvas)
    cdp = await page.context.new_cdp_session(page)
    for points in pad_strokes(box):
        await finger_stroke(cdp, points)
    await cdp.detach()
    # A finger lifted from the pad and a tap on a button within Chromium's double-tap window
    # (300 ms) make one gesture, and no click follows (measured: the tap is lost at once,
    # kept after 350 ms). A person's hand takes longer than that to reach the button.
    await page.wait_for_timeout(400)


SIGN_BUTTON = "form.signature-form button[type=submit]"
_STATUS = "form.signature-form [data-status]"


async def tap_to_sign(page: Page) -> None:
    """Tap 签署本版本 and wait for the page's confirmation (``#sign-done``).

    The form answers a tap at once: its status line says it is signing, or why not. A tap
    that leaves the line empty never reached the form: Chromium folded it into the finger's
    last stroke as a double tap, which a heavily loaded machine can do even after
    ``sign_by_finger``'s pause (a whole-suite run lost one so: no answer in 45 s). A person
    taps again when nothing happens, and so does this, once. An answer is never tapped
    over: a refusal fails here with the page's own words."""
    status = page.locator(_STATUS)
    answered = (
        "s => !!document.getElementById('sign-done') || "
        "(document.querySelector(s)?.textContent || '').trim() !== ''"
    )
    for _attempt in range(2):
        await page.locator(SIGN_BUTTON).tap()
        try:
            await page.wait_for_function(answered, arg=_STATUS, timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    try:
        await page.locator("#sign-done").wait_for()
    except PlaywrightTimeout as exc:
        said = await status.text_content() if await status.count() else None
        raise AssertionError(f"not signed; the form said {said!r}") from exc
