"""The one rule for a name a party types, in the lobby and under a signature alike.

A party proves nothing by typing a name, but a name that is not theirs is refused, and the
rule must not differ between joining a session and signing an agreement. People type their
name with or without spaces, the middle dot of a transliterated name (``·``) or a full stop,
in full-width or half-width characters and in any case; any of these matches. The party's
representative (a company's legal representative, a guardian) may type their own name.
"""

from __future__ import annotations

import unicodedata

from server.models.docket import Party

_IGNORED = "·."


def normalize_name(name: str) -> str:
    """NFKC (full-width to half-width), no whitespace, no ``·`` or ``.``, casefolded."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(ch for ch in text if not ch.isspace() and ch not in _IGNORED).casefold()


def name_matches(typed: str, party: Party) -> bool:
    """Whether ``typed`` is the party's name or their representative's (never empty)."""
    wanted = {normalize_name(party.name)}
    if party.representative:
        wanted.add(normalize_name(party.representative))
    got = normalize_name(typed)
    return bool(got) and got in wanted
