"""The import graph of the project's own modules: no cycle, and the domain never reaches Dagster.

Imports are read with `ast`, at module level AND inside functions: a function-level import is still a
dependency (it runs as soon as the function does), so it counts for cycles and for reaching Dagster.
`if TYPE_CHECKING:` imports do not count (they never run).

The domain is sage_amazon/. Its Dagster-side modules are DAGSTER_SIDE: definitions.py (the code location)
and the runner/ package with its modules (running the graph without the UI), and tenants/ (one code location per
seller, its Celery workers: docs/multi-seller.md). The command-line modules (LAUNCHERS) may hand over to
the runner, inside a command's function only; no other domain module imports dagster, a Dagster-side
module, or assets/, resources/, sensors/, directly or through another module.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sage_amazon", "assets", "resources", "sensors")
DAGSTER_SIDE = {"sage_amazon.definitions", "sage_amazon.runner", "sage_amazon.tenants"}  # tenants: issue 19
LAUNCHERS = {"sage_amazon.cli", "sage_amazon.deadletter_cli", "sage_amazon.ledger.cli"}
DAGSTER_PACKAGES = ("dagster", "dagster_")  # dagster, dagster.*, dagster_webserver, dagster_postgres...


def _dagster_side(module: str) -> bool:
    """definitions.py, the runner package and its modules (sage_amazon.runner.pipeline...)."""
    return any(module == side or module.startswith(side + ".") for side in DAGSTER_SIDE)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, name: str, modules: dict[str, Path]) -> list[tuple[str, bool, int]]:
    """(imported name, at module level?, line) for every import that runs, resolved to project modules
    where it names one (`from pkg import mod` is pkg.mod when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, top)
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, top, child.lineno) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in modules else base, top, child.lineno))
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, inner)

    visit(tree, True)
    return found


def _graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[str, bool, int]]]]:
    modules = _modules()
    edges: dict[str, set[str]] = {}
    raw: dict[str, list[tuple[str, bool, int]]] = {}
    for name, path in modules.items():
        raw[name] = _imports(path, name, modules)
        targets = set()
        for imported, _, _ in raw[name]:
            # importing a.b.c runs a and a.b first
            parts = imported.split(".")
            targets |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()
        edges[name] = targets - {name}
    return edges, raw


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strongconnect(w)
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
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


def _is_package_init(name: str, edges: dict[str, set[str]]) -> bool:
    return any(other.startswith(name + ".") for other in edges)


def test_no_import_cycle():
    edges, _ = _graph()
    # a package's __init__ and its submodules are one unit for Python (importing a.b runs a first), so an
    # edge from a submodule up to its own package is not a cycle of ours; every other edge counts
    pruned = {m: {t for t in ts if not (m.startswith(t + ".") and _is_package_init(t, edges))}
              for m, ts in edges.items()}
    assert _cycles(pruned) == []


def test_the_domain_never_reaches_dagster():
    edges, raw = _graph()
    domain = {m for m in edges if m.split(".")[0] == "sage_amazon" and not _dagster_side(m)}
    offenders = []
    for module in sorted(domain):
        for imported, top, line in raw[module]:
            root = imported.split(".")[0]
            dagster_side = _dagster_side(imported) or root in ("assets", "resources", "sensors")
            if root == "dagster" or root.startswith(DAGSTER_PACKAGES[1]):
                offenders.append(f"{module}:{line} imports {imported}")
            elif dagster_side and not (module in LAUNCHERS and _dagster_side(imported) and not top):
                offenders.append(f"{module}:{line} imports {imported}")
    assert offenders == [], "the domain imports Dagster (or Dagster-side code): " + "; ".join(offenders)
    # indirectly: nothing a domain module imports (transitively, launchers' hand-over excepted) is Dagster-side
    reach: dict[str, set[str]] = {}

    def reachable(module: str) -> set[str]:
        if module not in reach:
            reach[module] = set()
            for target in edges[module]:
                if module in LAUNCHERS and _dagster_side(target):
                    continue
                reach[module] |= {target} | reachable(target)
        return reach[module]

    leaks = {m: sorted(t for t in reachable(m) if _dagster_side(t) or t.split(".")[0] != "sage_amazon")
             for m in domain}
    assert {m: ts for m, ts in leaks.items() if ts} == {}


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path):
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\n\ndef f():\n    from b import x\n")
    found = _imports(probe, "probe", {"a": probe, "b": probe})
    assert ("b", False, 5) in found and ("os", True, 1) in found


def test_each_folder_imports_only_what_docs_architecture_allows():
    """docs/architecture.md, "What each folder may import"."""
    _, raw = _graph()
    rules = {  # importer prefix -> forbidden import roots/modules
        "resources": ("assets", "sensors", "sage_amazon.definitions", "sage_amazon.runner"),
        "sensors": ("sage_amazon.definitions", "sage_amazon.runner"),
        "assets": ("sage_amazon.definitions", "sage_amazon.runner"),
    }
    offenders = []
    for module, imports in raw.items():
        root = module.split(".")[0]
        forbidden = rules.get(root, ())
        if root == "assets" and not module.endswith(".definitions"):
            forbidden = (*forbidden, "sensors")  # only a flow's definitions.py brings its sensors in
        for imported, _, line in imports:
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                offenders.append(f"{module}:{line} imports {imported}")
    assert offenders == []
