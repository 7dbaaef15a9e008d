"""What the product's own source passes to a function, read with ``ast``: the tests that
every timeline kind has a label and every refusal a Chinese wording find their cases here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "recordings", "signaling")


def literal_args(functions: dict[str, int]) -> dict[str, str]:
    """Each string literal passed at ``functions[name]`` (a position) to a call of ``name``
    (a plain name or an attribute) in the product, with the first place it is passed; both
    literals of a ``"a" if ... else "b"``."""
    found: dict[str, str] = {}
    for path, node in _calls():
        arg = _message_args(node, functions)
        for text in _literals(arg):
            found.setdefault(text, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _literals(arg: ast.expr | None) -> list[str]:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        return _literals(arg.body) + _literals(arg.orelse)
    return []


def _message_args(node: ast.Call, functions: dict[str, int]) -> ast.expr | None:
    name = getattr(node.func, "id", getattr(node.func, "attr", None))
    at = functions.get(str(name))
    return node.args[at] if at is not None and len(node.args) > at else None


def _calls() -> Iterator[tuple[Path, ast.Call]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    yield path, node


def _put_together(arg: ast.expr) -> bool:
    """A message built at the call: an f-string, a sum or ``%`` of strings, a ``.format``."""
    if isinstance(arg, ast.JoinedStr | ast.BinOp):
        return True
    if isinstance(arg, ast.IfExp):
        return _put_together(arg.body) or _put_together(arg.orelse)
    return isinstance(arg, ast.Call) and getattr(arg.func, "attr", None) == "format"


def formatted_args(functions: dict[str, int]) -> list[str]:
    """Where a message put together at the call is passed at ``functions[name]`` to a call
    of ``name`` in the product: no catalogue can hold it (a template with values can)."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node in _calls()
        if (arg := _message_args(node, functions)) is not None and _put_together(arg)
    ]
