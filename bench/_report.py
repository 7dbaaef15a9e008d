"""How every benchmark hands over its figures: printed as JSON, and written to a file when one
is named (``--json``), its folder made first."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_result(result: Any, path: str | Path | None) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False)
    print(text)
    if path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
