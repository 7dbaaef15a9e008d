"""Every kind of entry the server writes on a case's timeline has a label the case page
shows in the reader's language: a kind without one reached the page as its key
("booked", "call_attached" in a Chinese timeline)."""

from __future__ import annotations

from server.pages.case_pages import ENTRY_KINDS
from tests.source_scan import literal_args

# The functions that write a timeline entry, and where their ``kind`` argument sits.
WRITERS = {"log_change": 2, "_log": 2, "_timeline": 2}


def test_the_scan_finds_the_writers():
    kinds = literal_args(WRITERS)
    assert {"created", "transition", "booked", "recording_alarm"} <= set(kinds), kinds


def test_every_kind_written_has_a_label():
    unlabelled = {k: where for k, where in literal_args(WRITERS).items() if k not in ENTRY_KINDS}
    assert unlabelled == {}, f"add to server.pages.case_pages.ENTRY_KINDS: {unlabelled}"
