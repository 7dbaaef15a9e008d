"""All ORM models, imported here so that ``Base.metadata`` knows every table.

Each domain keeps its models in its own module; add the module to this list.
"""

from server.models import (
    accounts,
    agreements,
    audit,
    desk,
    docket,
    documents,
    recordings,
    scheduling,
    sessions,
)
from server.models.base import Base

__all__ = [
    "Base",
    "accounts",
    "agreements",
    "audit",
    "desk",
    "docket",
    "documents",
    "recordings",
    "scheduling",
    "sessions",
]
