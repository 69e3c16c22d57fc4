"""The import graph, checked: layers only import downwards and no two packages import each other.

    .venv/bin/python scripts/check_layers.py          # prints the package graph and any violation

Every `import` in `registry/` and `api/` counts, also the ones inside functions or under
`TYPE_CHECKING`. A module's package is its first level below `registry` (`registry.jobs.worker` is
in `registry.jobs`); `api` is one package. Layers, lowest first:

0. `registry.errors`, `registry.settings` (with `registry.presets`, its table of chain presets),
   `registry.redaction`, `registry.secret_files`: the error root, the one settings object, the scrubbing of
   configured secrets from answers and logs, and the secrets generated once into the data directory;
1. infrastructure: `registry.db`, `registry.chain`, `registry.ipfs`, `registry.net`, `registry.metrics`
   (never a domain);
2. the domains (every other `registry.<package>`), in an order with no cycle;
3. `registry.runtime` (a package: the root and its keys, wiring and loops modules), the composition
   root (nothing in `registry` imports it);
4. `api`, the HTTP app and the command line (only it imports FastAPI).

The chain facade is closed: `registry.chain.node` (raw JSON-RPC, the provider) and
`registry.chain.sender` with `registry.chain.sender_inflight` (the signer's transactions) are
imported only inside `registry.chain` and by the composition root, and nothing else reads a `.w3`
(the node's web3 object): domains and routes use the chain's typed methods.

The benchmarks (`benchmarks/`, run as `python -m benchmarks.bench_x`) are scanned too and their
project imports printed: they build the service through the composition root, so they import public
modules of `registry` and `api` (and the test suite's `tests.support`), never a private chain module,
never a private name (`_name`, of any package), never `sys.path` (nor read a `.w3`); a
`scripts/bench_*.py` is refused (benchmarks live in `benchmarks/`).

Exit status 1 on any upward import, any package pair importing each other (any package cycle), any
module-level import cycle or any breach of the facade; `tests/test_architecture.py` runs this in the
suite.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `registry`: the empty root; `registry.presets`: the settings' chain presets
FOUNDATION = {
    "registry",
    "registry.errors",
    "registry.settings",
    "registry.presets",
    "registry.redaction",
    "registry.secret_files",
}
INFRASTRUCTURE = {"registry.db", "registry.chain", "registry.ipfs", "registry.net", "registry.metrics"}
COMPOSITION = {"registry.runtime", "registry.standalone"}
WEB_ONLY = ("fastapi", "starlette", "uvicorn")
CHAIN_PRIVATE = ("registry.chain.node", "registry.chain.sender", "registry.chain.sender_inflight")
BENCHMARKS = "benchmarks"
MISPLACED_BENCHMARKS = "scripts/bench_*.py"
PROJECT = ("registry", "api", "benchmarks", "tests")  # top-level packages of this checkout
BENCHMARK_MAY_IMPORT = ("registry", "api", "benchmarks", "tests.support")  # of the project's modules


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


def private_chain(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in CHAIN_PRIVATE)


def may_use_private_chain(module: str) -> bool:
    return package_of(module) == "registry.chain" or package_of(module) in COMPOSITION


def reads_w3(path: Path) -> list[int]:
    """Lines where `path` reads an attribute named `w3` (the node's web3 object)."""
    tree = ast.parse(path.read_text(), str(path))
    return sorted({n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "w3"})


def benchmarks(root: Path) -> dict[str, list[str]]:
    """Each benchmark file (relative path) and what it imports of the project (modules of `registry`,
    `api`, `benchmarks` and `tests`)."""
    found: dict[str, list[str]] = {}
    for path in sorted((root / BENCHMARKS).rglob("*.py")):
        names = imports(path, module_name(path, root))
        modules = {n for n in names if n.split(".")[0] in PROJECT and _is_module(root, n)}
        # A package imported for a submodule (`from registry.chain import artifacts`) is named by it.
        modules -= {n for n in modules if any(m.startswith(n + ".") for m in modules)}
        found[path.relative_to(root).as_posix()] = sorted(modules)
    return found


def _is_module(root: Path, name: str) -> bool:
    path = root / name.replace(".", "/")
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _private(name: str) -> bool:
    """Whether a dotted name has a private part (`_name`, not a dunder like `__future__`)."""
    return any(part.startswith("_") and not part.endswith("__") for part in name.split("."))


def _edits_sys_path(path: Path) -> list[int]:
    """Lines where `path` touches `sys.path`."""
    tree = ast.parse(path.read_text(), str(path))
    touches = (n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "path")
    return sorted({n.lineno for n in touches if isinstance(n.value, ast.Name) and n.value.id == "sys"})


def benchmark_problems(root: Path) -> list[str]:
    problems = [
        f"{p.relative_to(root).as_posix()}: benchmarks live in {BENCHMARKS}/ (run as python -m {BENCHMARKS}.name)"
        for p in sorted(root.glob(MISPLACED_BENCHMARKS))
    ]
    for relative, modules in benchmarks(root).items():
        path = root / relative
        names = imports(path, module_name(path, root))
        private = sorted({n for n in modules if private_chain(n)})
        if private:
            problems.append(f"benchmark {relative} imports {', '.join(private)}: private to registry.chain")
        hidden = sorted(n for n in names if _private(n))
        if hidden:
            problems.append(f"benchmark {relative} imports private names: {', '.join(hidden)}")
        foreign = [m for m in modules if not any(m == a or m.startswith(a + ".") for a in BENCHMARK_MAY_IMPORT)]
        if foreign:
            problems.append(f"benchmark {relative} imports {', '.join(foreign)}: not a public module it may use")
        problems += [f"benchmark {relative}:{n} edits sys.path: run it as python -m" for n in _edits_sys_path(path)]
        problems += [f"benchmark {relative}:{n} reads `.w3`: use the chain's typed methods" for n in reads_w3(path)]
    return problems


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
    for module, targets in graph.items():
        if not may_use_private_chain(module):
            private = sorted(t for t in targets if private_chain(t))
            problems += [f"{module} imports {t}: private to registry.chain" for t in private]
    for module, path in files.items():
        if not may_use_private_chain(module):
            problems += [f"{module}:{line} reads `.w3`: use the chain's typed methods" for line in reads_w3(path)]
        if package_of(module) == "api":
            continue
        text = path.read_text()
        for web in WEB_ONLY:
            if f"import {web}" in text or f"from {web}" in text:
                problems.append(f"{module} imports {web}: only api/ speaks HTTP")
    problems += benchmark_problems(root)
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
    for path, names in benchmarks(ROOT).items():
        print(f"[bench] {path} -> {', '.join(names) or '-'}")
    for problem in problems:
        print("VIOLATION", problem)
    print(f"{len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
