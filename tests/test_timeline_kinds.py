"""Every kind of entry the server writes on a case's timeline has a label the case page
shows in the reader's language: a kind without one reached the page as its key
("booked", "call_attached" in a Chinese timeline)."""

from __future__ import annotations

import ast
from pathlib import Path

from server.pages.case_pages import ENTRY_KINDS

ROOT = Path(__file__).resolve().parent.parent
# The functions that write a timeline entry, and where their ``kind`` argument sits.
WRITERS = {"log_change": 2, "_log": 2, "_timeline": 2}


def written_kinds() -> dict[str, str]:
    """Each literal kind passed to a timeline writer in the product, with where it is."""
    found: dict[str, str] = {}
    for package in ("server", "recordings", "signaling"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                at = WRITERS.get(str(name))
                if at is None or len(node.args) <= at:
                    continue
                kind = node.args[at]
                if isinstance(kind, ast.Constant) and isinstance(kind.value, str):
                    found[kind.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def test_the_scan_finds_the_writers():
    kinds = written_kinds()
    assert {"created", "transition", "booked", "recording_alarm"} <= set(kinds), kinds


def test_every_kind_written_has_a_label():
    unlabelled = {k: where for k, where in written_kinds().items() if k not in ENTRY_KINDS}
    assert unlabelled == {}, f"add to server.pages.case_pages.ENTRY_KINDS: {unlabelled}"
