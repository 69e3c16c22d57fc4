"""The import graph, checked: layers only import downwards and no two packages import each other.

    .venv/bin/python scripts/check_layers.py          # prints the package graph and any violation

Every `import` in `registry/` and `api/` counts, also the ones inside functions or under
`TYPE_CHECKING`. A module's package is its first level below `registry` (`registry.jobs.worker` is
in `registry.jobs`); `api` is one package. Layers, lowest first:

0. `registry.errors`, `registry.settings`, `registry.redaction`: the error root, the one settings
   object, and the scrubbing of configured secrets from answers and logs;
1. infrastructure: `registry.db`, `registry.chain`, `registry.ipfs`, `registry.net` (never a domain);
2. the domains (every other `registry.<package>`), in an order with no cycle;
3. `registry.runtime`, the composition root (nothing in `registry` imports it);
4. `api`, the HTTP app and the command line (only it imports FastAPI).

Exit status 1 on any upward import, any package pair importing each other (any package cycle), or
any module-level import cycle; `tests/test_architecture.py` runs this in the suite.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOUNDATION = {"registry", "registry.errors", "registry.settings", "registry.redaction"}  # `registry`: the empty root
INFRASTRUCTURE = {"registry.db", "registry.chain", "registry.ipfs", "registry.net"}
COMPOSITION = {"registry.runtime"}
WEB_ONLY = ("fastapi", "starlette", "uvicorn")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[0] if parts[0] == "api" else ".".join(parts[:2])


def layer(package: str) -> int:
    if package in FOUNDATION:
        return 0
    if package in INFRASTRUCTURE:
        return 1
    if package in COMPOSITION:
        return 3
    if package == "api":
        return 4
    return 2


def imports(path: Path, module: str) -> set[str]:
    """Every project module `path` imports (absolute names)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def scan(root: Path) -> tuple[dict[str, set[str]], dict[str, Path]]:
    files = {module_name(p, root): p for top in ("registry", "api") for p in sorted((root / top).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        graph[module] = {name for name in imports(path, module) if name in files and name != module}
    return graph, files


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(root: Path = ROOT) -> tuple[list[str], dict[str, set[str]]]:
    graph, files = scan(root)
    problems: list[str] = []
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        source = package_of(module)
        packages[source]
        for target in targets:
            dest = package_of(target)
            if dest == source:
                continue
            packages[source].add(dest)
            if layer(dest) > layer(source):
                problems.append(f"upward import: {module} (layer {layer(source)}) -> {target} (layer {layer(dest)})")
    for module, path in files.items():
        if package_of(module) == "api":
            continue
        text = path.read_text()
        for web in WEB_ONLY:
            if f"import {web}" in text or f"from {web}" in text:
                problems.append(f"{module} imports {web}: only api/ speaks HTTP")
    for component in cycles(dict(packages)):
        problems.append("packages import each other: " + " <-> ".join(component))
    for component in cycles(graph):
        problems.append("module import cycle: " + " <-> ".join(component))
    return problems, dict(packages)


def main() -> int:
    problems, packages = violations()
    for package in sorted(packages, key=lambda p: (layer(p), p)):
        below = ", ".join(sorted(packages[package])) or "-"
        print(f"[{layer(package)}] {package} -> {below}")
    for problem in problems:
        print("VIOLATION", problem)
    print(f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
