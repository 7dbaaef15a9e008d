"""What the product imports, its own install brings: every third-party module imported by
``server``, ``signaling`` and ``recordings`` comes from a distribution that the project's
main dependencies require, directly or through theirs.

The suite runs with the test extras installed, so a product module importing a test-only
package passes every other test while `make run` (which installs the product alone) fails
at start: that is how the case mailbox's ``aiosmtpd`` once broke the demo.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("server", "signaling", "recordings")


def _name(requirement: str) -> str:
    """A requirement's distribution name, normalized (PEP 503)."""
    head = re.split(r"[\s;<>=!~\[(]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", head).lower()


def _closure(names: set[str]) -> set[str]:
    """The distributions these require, transitively, without their extras."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a dependency for another platform (uvloop on Windows, say)
        for requirement in requires:
            if "extra ==" in requirement.replace('"', "'").replace("extra==", "extra =="):
                continue
            todo.append(_name(requirement))
    return seen


def _imported_top_levels() -> dict[str, str]:
    """Each top-level module the product imports, with one file that imports it."""
    found: dict[str, str] = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_the_product_imports_only_what_its_own_install_brings() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = _closure({_name(r) for r in project["dependencies"]})
    providers = metadata.packages_distributions()
    missing = {}
    for module, where in _imported_top_levels().items():
        if module in sys.stdlib_module_names or module in PRODUCT or module == "__future__":
            continue
        dists = {_name(d) for d in providers.get(module, [])}
        assert dists, f"{where} imports {module}, which no installed distribution provides"
        if not dists & installed:
            missing[module] = (where, sorted(dists))
    assert not missing, (
        f"imported by the product but only installed by the test extras: {missing}; "
        "add them to [project].dependencies"
    )
