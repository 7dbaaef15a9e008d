"""How ``make test`` shares its tests among pytest-xdist's workers.

xdist's default scheduler hands each worker its first chunk of tests in collection order, a
quarter of its share at once. The browser tests are collected first (``tests/e2e``), so the
first worker got all 56 of them and ran them one after another: the run could not end
before that one worker had, however soon the other two were done with the rest. Spread over
all three workers, three browsers ran at once on two cores (load averages of 25).

So the browser tests go in two shares, each kept to one worker, and every other test is a
unit of its own, given to whichever worker is free (the units of most tests go first: the
browser shares, then the fuzzers'). xdist's own
``--dist loadgroup`` would do the grouping from a marker, but under pytest 9.2 it no longer
renames the tests it groups and so groups nothing; this scheduler groups by path instead.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

BROWSER_TESTS = "tests/e2e/"
BROWSER_SHARES = 2
# Tests that share a costly once-per-worker fixture, kept together by its parameter: the
# schemathesis tests seed a database per backend (``courtlink demo`` and a booking).
TOGETHER = {"tests/test_schemathesis.py"}


class BrowsersInShares(LoadScopeScheduling):
    """``--dist load`` but the browser tests in ``BROWSER_SHARES`` shares (see above)."""

    _shares: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if nodeid.startswith(BROWSER_TESTS):
            return self._share_of(nodeid)
        path, _, name = nodeid.partition("::")
        if path in TOGETHER:
            # "test_x[sqlite-judge]": one unit per backend, the first parameter.
            return f"{path}[{name.partition('[')[2].split('-')[0]}"
        return nodeid

    def _share_of(self, nodeid: str) -> str:
        if self._shares is None:
            # In collection order, every second test to the other share: each file's tests,
            # short and long, fall on both.
            browsers = [n for n in self.collection or [] if n.startswith(BROWSER_TESTS)]
            self._shares = {n: f"browsers-{i % BROWSER_SHARES + 1}" for i, n in enumerate(browsers)}
        return self._shares[nodeid]
