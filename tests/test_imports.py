"""The module import graph of ``bot/`` and ``tools/`` has no cycle, and ``tools/`` stands alone.

Built from the source with ``ast``, so it counts every import a module can make: at the top,
inside functions, and under ``TYPE_CHECKING`` (a cycle hidden behind a function-level import is
still a cycle in the design, and it is how ``tools/`` used to register its tools).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "tools")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    return {
        module_name(path): path
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imports(name: str, path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``(module, names)`` for every import statement of module ``name``: ``import a.b`` is
    ``("a.b", ())``, ``from a import b, c`` is ``("a", ("b", "c"))``; relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = name.split(".")
                prefix = ".".join(base[: len(base) - node.level + (1 if is_package else 0)])
                module = f"{prefix}.{module}" if module else prefix
            found.append((module, tuple(alias.name for alias in node.names)))
    return found


def imported_names(name: str, path: Path) -> set[str]:
    """Every module or name the module imports, fully qualified."""
    return {f"{m}.{n}" if n else m for m, names in imports(name, path) for n in (names or ("",))}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Edges between the given modules only (third-party and stdlib imports are dropped).

    ``from a import b`` is an edge to ``a.b`` when that is a module, else to ``a``: the package
    ``__init__`` Python runs on the way to a submodule is not what the importing module uses.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for module, names in imports(name, path):
            for imported in names or ("",):
                sub = f"{module}.{imported}"
                edges.add(sub if imported and sub in modules else module)
        graph[name] = {e for e in edges if e in modules} - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(graph):
        if root in state:
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                continue
            nxt = todo.pop()
            if state.get(nxt) == 1:
                path = [n for n, _ in stack]
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                state[nxt] = 1
                stack.append((nxt, sorted(graph[nxt])))
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_relative_and_from_imports_resolve_to_modules(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text(
        "from . import sibling\nfrom .pkg.sub import thing\nimport x.y\n"
        "def f():\n    from a.b.other import name\n"
    )
    empty = tmp_path / "empty.py"
    empty.write_text("")
    modules = {
        "a.b.mod": source,
        "a.b.sibling": empty,
        "a.b.pkg.sub": empty,
        "a.b.other": empty,
        "a.b": empty,
    }
    assert import_graph(modules)["a.b.mod"] == {"a.b.sibling", "a.b.pkg.sub", "a.b.other"}


def test_no_import_cycle_among_bot_and_tools() -> None:
    graph = import_graph(source_modules())
    assert len(graph) > 50  # the scan found the packages
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_tools_import_neither_bot_nor_sandbox() -> None:
    offenders = {
        name: sorted(t for t in imported_names(name, path) if t.split(".")[0] in ("bot", "sandbox"))
        for name, path in source_modules(("tools",)).items()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_catalogue_lists_every_tool_module_explicitly() -> None:
    """No tool module is left out (it would silently not exist) and none registers itself."""
    modules = source_modules(("tools",))
    graph = import_graph(modules)
    tool_modules = {
        name
        for name, path in modules.items()
        if name.startswith(("tools.readonly.", "tools.mutating.")) and "@tool(" in path.read_text()
    }
    assert tool_modules and tool_modules <= graph["tools.catalog"]
    assert not any("tools.catalog" in graph[name] for name in graph if name != "tools.catalog")
