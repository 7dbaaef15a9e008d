"""What the product's own source passes to a function, read with ``ast``: the tests that
every timeline kind has a label and every refusal a Chinese wording find their cases here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "recordings", "signaling")


def literal_args(functions: dict[str, int]) -> dict[str, str]:
    """Each string literal passed at ``functions[name]`` (a position) to a call of ``name``
    (a plain name or an attribute) in the product, with the first place it is passed."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", None))
                at = functions.get(str(name))
                if at is None or len(node.args) <= at:
                    continue
                arg = node.args[at]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found
