"""``tests.schedule``: how ``make test`` shares its tests among xdist's workers."""

from __future__ import annotations

from tests.schedule import BROWSER_SHARES, BrowsersInShares

COLLECTION = [
    "tests/e2e/test_a.py::test_one",
    "tests/e2e/test_a.py::test_two[phone]",
    "tests/e2e/test_b.py::test_three",
    "tests/e2e/test_b.py::test_four",
    "tests/e2e/test_c.py::test_five",
    "tests/test_booking.py::test_book[sqlite]",
    "tests/test_booking.py::test_book[postgres]",
    "tests/test_schemathesis.py::test_api_answers_as_documented[sqlite-anonymous]",
    "tests/test_schemathesis.py::test_api_answers_as_documented[sqlite-judge]",
    "tests/test_schemathesis.py::test_api_answers_as_documented[postgres-judge]",
]


def scheduler() -> BrowsersInShares:
    # Only the grouping is under test: no workers, so xdist's constructor is passed over.
    made = BrowsersInShares.__new__(BrowsersInShares)
    made.collection = COLLECTION
    return made


def test_the_browser_tests_fall_in_shares_each_file_on_both() -> None:
    made = scheduler()
    shares = {n: made._split_scope(n) for n in COLLECTION if n.startswith("tests/e2e/")}
    assert len(set(shares.values())) == BROWSER_SHARES == 2
    assert sorted(list(shares.values()).count(s) for s in set(shares.values())) == [2, 3]
    for path in ("tests/e2e/test_a.py", "tests/e2e/test_b.py"):
        assert len({s for n, s in shares.items() if n.startswith(path)}) == 2


def test_every_other_test_is_a_unit_of_its_own_but_the_fuzzers_share_a_seed() -> None:
    made = scheduler()
    assert made._split_scope(COLLECTION[5]) == COLLECTION[5]
    assert made._split_scope(COLLECTION[6]) == COLLECTION[6]
    fuzz = [made._split_scope(n) for n in COLLECTION[7:]]
    assert fuzz[0] == fuzz[1] != fuzz[2]
    assert fuzz[2] == "tests/test_schemathesis.py[postgres"
