"""The walls of DESIGN.md, read from the code's own imports (function-level ones included).

- the domain (everything in ``server/`` outside the web layer and the shells that start it,
  and ``recordings/``) never imports aiohttp;
- ``recordings/`` and ``signaling/`` never import each other;
- the protocol (``signaling/protocol.py`` and its two message modules) imports neither
  aiohttp nor aiortc;
- no import cycle among the project's modules;
- only the route table adds routes, and only the app factory adds lifetimes.

Nothing is excused: a module that breaks a wall is moved or changed, not listed here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("server", "signaling", "recordings")
# The web layer and the shells that start the process: they may speak HTTP. Everything else
# in server/ is the domain. (A definition of the layers, not a list of exceptions: a domain
# module that needs aiohttp does not belong in the domain.)
WEB_LAYER = ("server.web", "server.api", "server.pages", "server.app", "server.routes")
SHELLS = ("server.cli", "server.live", "server.migrations")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """Every module ``name`` imports, anywhere in its body, resolved to the most specific
    module that exists (``from server.api import cases`` is ``server.api.cases``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                yield candidate if candidate in known else target


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def graph() -> dict[str, set[str]]:
    known = project_modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        edges[name] = set(imports_of(name, path, known))
    return edges


def domain_modules(edges: dict[str, set[str]]) -> list[str]:
    return sorted(
        n
        for n in edges
        if (n.startswith("server.") and not _in(n, WEB_LAYER + SHELLS)) or _in(n, ("recordings",))
    )


def test_the_domain_never_imports_aiohttp() -> None:
    edges = graph()
    offenders = {
        n: sorted(i for i in edges[n] if _in(i, ("aiohttp",))) for n in domain_modules(edges)
    }
    assert {n: i for n, i in offenders.items() if i} == {}


def test_recordings_and_signaling_never_import_each_other() -> None:
    edges = graph()
    crossing = sorted(
        f"{n} -> {i}"
        for n, targets in edges.items()
        for i in targets
        if (_in(n, ("recordings",)) and _in(i, ("signaling",)))
        or (_in(n, ("signaling",)) and _in(i, ("recordings",)))
    )
    assert crossing == []


def test_the_protocol_modules_are_pure() -> None:
    edges = graph()
    modules = ("signaling.protocol", "signaling.browser_messages", "signaling.server_messages")
    assert (
        sorted(f"{n} -> {i}" for n in modules for i in edges[n] if _in(i, ("aiohttp", "aiortc")))
        == []
    )


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The guard above must be able to fail.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _calls(path: Path, attribute: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Attribute) and node.attr == attribute for node in ast.walk(tree)
    )


def test_only_the_route_table_adds_routes() -> None:
    adders = ("add_route", "add_get", "add_post", "add_put", "add_delete", "add_static")
    offenders = sorted(
        name
        for name, path in project_modules().items()
        if name != "server.routes" and any(_calls(path, a) for a in adders)
    )
    assert offenders == []


def test_only_the_app_factory_adds_lifetimes() -> None:
    offenders = sorted(
        name
        for name, path in project_modules().items()
        if name != "server.app" and (_calls(path, "cleanup_ctx") or _calls(path, "on_startup"))
    )
    assert offenders == []
