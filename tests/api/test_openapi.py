"""The OpenAPI document is valid and describes every answer, so games and partners can generate
typed clients. Built from the app alone (no runtime needed)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from api import deps
from api.main import create_app


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_the_document_validates_and_no_reference_dangles() -> None:
    doc = create_app().openapi()
    validate(doc)  # OpenAPI 3.1 schema validation, references resolved
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, f"dangling {ref}"


def test_every_route_declares_the_schema_of_its_success_answer() -> None:
    doc = create_app().openapi()
    missing = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            if not success:
                missing.append(f"{method.upper()} {path}: no success answer")
            for code, response in success.items():
                if code == "204":
                    continue  # no content, by definition
                schemas = [media.get("schema") for media in response.get("content", {}).values()]
                if not schemas or any(not schema for schema in schemas):
                    missing.append(f"{method.upper()} {path} {code}: no schema")
    assert not missing, missing
    assert len(doc["paths"]) >= 25  # the whole API is in the document, not a part of it


# The dependencies that refuse a request without credentials (the others narrow these), and those
# that read credentials only if they are there.
_REQUIRING = {deps.operator, deps.caller, deps.signed_in_player}
_READING = {deps.optional_caller, deps.bearer}


def _calls(dependant: Dependant) -> set[Any]:
    found = {dependant.call} if dependant.call is not None else set()
    return found.union(*(_calls(sub) for sub in dependant.dependencies))


def _needs(route: APIRoute) -> str:
    calls = _calls(route.dependant)
    return "required" if calls & _REQUIRING else "optional" if calls & _READING else "none"


def _declared(operation: dict[str, Any]) -> str:
    security = operation.get("security")
    if not security:
        return "none"
    assert all(requirement in ({}, {"HTTPBearer": []}) for requirement in security), security
    return "optional" if {} in security else "required"


def test_every_route_declares_the_credentials_it_really_requires() -> None:
    """Required (`[{"HTTPBearer": []}]`) only where a dependency refuses a request without a key;
    optional (`{}` beside it) where the route reads a key if given (`POST /v1/siwe/nonce` declared it
    required although a player's browser calls it with none); nothing where no key is read."""
    app = create_app()
    doc = app.openapi()
    wrong = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        for method in route.methods:
            declared = _declared(doc["paths"][route.path_format][method.lower()])
            if declared != _needs(route):
                wrong.append(f"{method} {route.path_format}: declares {declared}, needs {_needs(route)}")
    assert not wrong, wrong
    assert _declared(doc["paths"]["/v1/siwe/nonce"]["post"]) == "optional"


def test_every_schema_title_is_unique() -> None:
    """Generators name a model by its title: two schemas titled alike (`TwinRef` three times once)
    make `openapi-python-client` refuse the document."""
    schemas = create_app().openapi()["components"]["schemas"]
    titles = Counter(schema.get("title", name) for name, schema in schemas.items())
    assert not [title for title, n in titles.items() if n > 1], titles.most_common(5)
