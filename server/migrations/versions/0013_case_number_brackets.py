"""case numbers in full-width brackets

Revision ID: 0013_case_number_brackets
Revises: 0006_provisional_deadlines
Create Date: 2026-12-07

A case number's year stands in full-width brackets, as the Supreme People's Court's rules on
case numbers write it: （2026）晋0303民初5号. Numbers were given with ASCII brackets before;
the numbers cases carry (``cases.number``, ``case_numbers.number``) are written again. What
was sealed or logged with a number (sealed documents, recordings' manifests, the audit log)
keeps it as it was then: those are records of that moment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_case_number_brackets"
down_revision: str | Sequence[str] | None = "0006_provisional_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("cases", "case_numbers")


def _rebracket(opening: str, closing: str, to_opening: str, to_closing: str) -> None:
    # "(2026)…": the year is characters 2-5 and the rest starts at 7, in both databases'
    # substr (1-based, counted in characters).
    for table in TABLES:
        op.execute(
            sa.text(
                f"UPDATE {table} SET number = :o || substr(number, 2, 4) || :c"
                " || substr(number, 7) WHERE number LIKE :shape"
            ).bindparams(o=to_opening, c=to_closing, shape=f"{opening}____{closing}%")
        )


def upgrade() -> None:
    _rebracket("(", ")", "（", "）")


def downgrade() -> None:
    _rebracket("（", "）", "(", ")")
