"""Issue 20, moves 3 and 4 on the brand side: its routes declare the parts of the runtime they use,
and its services hand their answers over as schemas, not as dicts a route would validate again.
(The buyer's and the game's side have their own routes and domains; the same checks fit them.)"""

from __future__ import annotations

import ast
from pathlib import Path

from fastapi.routing import APIRoute

from api import deps
from api.routes import (
    assets,
    brands,
    claims,
    jobs,
    minting,
    nfc,
    ownership,
    partners,
    passport,
    providers,
    transactions,
    twins,
    webhooks,
)

ROOT = Path(__file__).resolve().parents[1]
BRAND_SIDE_ROUTES = (
    assets,
    brands,
    claims,
    jobs,
    minting,
    nfc,
    ownership,
    partners,
    passport,
    providers,
    transactions,
    twins,
    webhooks,
)
BRAND_SIDE_DOMAINS = (
    "assets",
    "brands",
    "claims",
    "jobs",
    "nfc",
    "ownership",
    "providers",
    "transactions",
    "twins",
    "webhooks",
)
# Public functions of those domains still answering a bare dict, each free-form for a reason its
# docstring gives.
FREE_FORM = {"registry/assets/service.py:validate_glb"}


def test_brand_side_routes_take_no_whole_runtime() -> None:
    """A route asks for settings, chain, store, server key or worker (each a dependency on the
    runtime); none takes the runtime itself. Fails on the routes as they were (RuntimeDep in 12 files)."""
    routes = [r for module in BRAND_SIDE_ROUTES for r in module.router.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 30  # every brand-side route is looked at, not a part of them
    offenders = [
        f"{sorted(r.methods)} {r.path}" for r in routes if deps.runtime in {d.call for d in r.dependant.dependencies}
    ]
    assert not offenders, offenders


def _bare_dict_functions(path: Path) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name.startswith("_"):
            continue
        if node.returns is not None and ast.unparse(node.returns).startswith("dict[str, Any]"):
            found.append((f"{path.relative_to(ROOT)}:{node.name}", node))
    return found


def test_brand_side_services_answer_schemas_not_bare_dicts() -> None:
    """Only the listed free-form documents leave a brand-side domain as `dict[str, Any]`, and each
    says why in its docstring. Fails on the domains as they were (24 such functions)."""
    found = {
        name: node
        for domain in BRAND_SIDE_DOMAINS
        for path in sorted((ROOT / "registry" / domain).glob("*.py"))
        for name, node in _bare_dict_functions(path)
    }
    assert set(found) == FREE_FORM
    for name in FREE_FORM:
        assert "free-form" in (ast.get_docstring(found[name]) or ""), name
