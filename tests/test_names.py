"""The one typed-name rule (``server.names``), the same in the lobby and under a signature."""

from __future__ import annotations

import pytest

from server.models.docket import Party
from server.names import name_matches, normalize_name

PERSON = Party(side="applicant", kind="person", name="张三")
COMPANY = Party(side="respondent", kind="company", name="平潭海运有限公司", representative="李四")
FOREIGN = Party(side="applicant", kind="person", name="Anna·Müller")


@pytest.mark.parametrize(
    ("typed", "party"),
    [
        ("张三", PERSON),
        (" 张 三 ", PERSON),  # spaces anywhere
        ("张\u3000三", PERSON),  # an ideographic space
        ("平潭海运有限公司", COMPANY),
        ("李四", COMPANY),  # the representative signs or joins for the company
        ("anna müller", FOREIGN),  # case, and the middle dot left out
        ("ANNA.MÜLLER", FOREIGN),
        ("Ａｎｎａ・Ｍüｌｌｅｒ".replace("・", "·"), FOREIGN),  # full-width letters
    ],
)
def test_a_name_matches_however_it_is_typed(typed: str, party: Party) -> None:
    assert name_matches(typed, party)


@pytest.mark.parametrize(
    ("typed", "party"),
    [
        ("李四", PERSON),
        ("张", PERSON),
        ("", PERSON),
        ("  ", PERSON),
        ("王五", COMPANY),
        ("Anna", FOREIGN),
    ],
)
def test_another_name_does_not(typed: str, party: Party) -> None:
    assert not name_matches(typed, party)


def test_normalize_name_by_hand() -> None:
    assert normalize_name(" Ａnna · Müller ") == "annamüller"
