"""The GS1-Conformant resolver over real HTTP, on a real stack (Anvil, SQLite, the local block store):
each behaviour the resolver standard 1.2 asks for, and each decision this resolver documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text

from api.main import create_app
from tests.api.conftest import Stack, fresh_stack, gtin, physical, png
from tests.support.server import serve

BASE = "https://id.twinmark.test"  # the public base the links are made on (TWINMARK_PUBLIC_URL)
LINKSET_SCHEMA = json.loads((Path(__file__).parents[1] / "data" / "gs1-linkset-schema.json").read_text())
PROBLEM = "https://twinmark.dev/problems/"
DPP = {
    "category": "leather",
    "fibre_composition": [{"fibre": "bovine leather", "percent": 100}],
    "origin_steps": [{"step": "tanning", "country": "IT"}, {"step": "assembly", "country": "FR"}],
    "care_instructions": ["Wipe with a dry cloth"],
    "repair": {"instructions": "Return to any boutique", "spare_parts_available": True},
    "substances_of_concern": [{"name": "Chromium VI", "cas": "18540-29-9", "concentration_percent": 0.0}],
}
CODE = "761234567890"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with fresh_stack(tmp_path_factory.mktemp("resolver"), public_url=BASE) as stack:
        headers, collection = stack.new_brand("Maison Resolve", "RSLV")
        image = stack.upload(headers, png(5))
        lotted = physical("R-1", image=image, code=CODE) | {"lot": "L-7", "dpp": DPP}
        plain = physical("R/2", code=CODE)  # a serial with a slash: percent-encoded in its link
        job = stack.client.post("/v1/batches", json={"twins": [lotted, plain]}, headers=headers).json()
        twins = stack.wait_job(headers, job["id"])["twins"]
        with serve(create_app(runtime=stack.runtime)) as url, httpx.Client(base_url=url, timeout=30) as http:
            yield {
                "stack": stack,
                "http": http,
                "collection": collection,
                "tokens": [t["token_id"] for t in twins],
                "headers": headers,
                "image": image,
            }


def _http(world: dict[str, Any]) -> httpx.Client:
    return world["http"]  # type: ignore[no-any-return]


def page(world: dict[str, Any], i: int = 0) -> str:
    return f"{BASE}/t/{world['collection']}/{world['tokens'][i]}"


G14 = gtin(CODE).zfill(14)
ITEM = f"/01/{G14}/10/L-7/21/R-1"


def test_the_default_link_is_the_verification_page(world: dict[str, Any]) -> None:
    r = _http(world).get(ITEM)
    assert r.status_code == 307 and r.headers["location"] == page(world)
    assert r.headers["access-control-allow-origin"] == "*" and "Location" in r.headers["access-control-expose-headers"]
    assert r.headers["vary"] == "Accept"
    link = r.headers["link"]
    assert f'<{BASE}{ITEM}?linkType=linkset>; rel="linkset"; type="application/linkset+json"' in link
    assert f'<{page(world)}>; rel="https://ref.gs1.org/voc/pip"' in link
    # The same item without its lot, with a GTIN-13, with a trailing slash: the same answer.
    for path in (f"/01/{G14}/21/R-1", f"/01/{gtin(CODE)}/21/R-1", f"/01/{G14}/21/R-1/"):
        again = _http(world).get(path)
        assert (again.status_code, again.headers["location"]) == (307, page(world)), path


def test_the_metadata_external_url_resolves_to_its_twin(world: dict[str, Any]) -> None:
    stack: Stack = world["stack"]
    for i in (0, 1):
        twin = stack.client.get(f"/v1/twins/{world['collection']}/{world['tokens'][i]}").json()
        external = twin["metadata"]["external_url"]
        assert external.startswith(BASE + "/01/")
        r = _http(world).get(external.removeprefix(BASE))
        assert r.headers["location"] == page(world, i)
    assert (
        "/21/R%2F2"
        in stack.client.get(f"/v1/twins/{world['collection']}/{world['tokens'][1]}").json()["metadata"]["external_url"]
    )


@pytest.mark.parametrize(
    ("link_type", "target"),
    [
        ("gs1:pip", "/t/{c}/{t}"),
        ("https://ref.gs1.org/voc/pip", "/t/{c}/{t}"),
        ("gs1:certificationInfo", "/v1/verify/{c}/{t}"),
        ("https://gs1.org/voc/certificationInfo", "/v1/verify/{c}/{t}"),
        ("gs1:dpp", "/v1/twins/{c}/{t}/passport"),
        ("gs1:defaultLink", "/t/{c}/{t}"),
    ],
)
def test_each_link_type_redirects_to_its_target(world: dict[str, Any], link_type: str, target: str) -> None:
    r = _http(world).get(ITEM, params={"linkType": link_type}, headers={"Accept": "text/html"})
    expected = BASE + target.format(c=world["collection"], t=world["tokens"][0])
    assert (r.status_code, r.headers["location"]) == (307, expected)


def test_the_targets_answer_what_their_link_types_promise(world: dict[str, Any]) -> None:
    location = _http(world).get(ITEM, params={"linkType": "gs1:dpp"}).headers["location"]
    passport = _http(world).get(location.removeprefix(BASE))
    assert passport.status_code == 200 and passport.headers["access-control-allow-origin"] == "*"
    body = passport.json()
    assert (body["gtin"], body["serial"], body["lot"]) == (G14, "R-1", "L-7")
    assert body["dpp"] == body["passport"]["dpp"]
    assert body["dpp"]["fibre_composition"] == [{"fibre": "bovine leather", "percent": 100.0, "recycled": False}]
    assert body["dpp"]["substances_of_concern"][0]["cas"] == "18540-29-9"
    assert body["digital_link"] == BASE + ITEM
    assert body["images"][0]["https"].startswith(BASE + "/ipfs/") and body["images"][0]["ipfs"].startswith("ipfs://")
    location = _http(world).get(ITEM, params={"linkType": "gs1:certificationInfo"}).headers["location"]
    assert _http(world).get(location.removeprefix(BASE)).json()["authentic"] is True
    missing = _http(world).get(f"/v1/twins/{world['collection']}/99999/passport")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("accept", "target"),
    [
        (None, "/t/{c}/{t}"),
        ("*/*", "/t/{c}/{t}"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "/t/{c}/{t}"),
        ("application/json", "/v1/verify/{c}/{t}"),
        ("application/json, text/html;q=0.2", "/v1/verify/{c}/{t}"),
    ],
)
def test_content_negotiation_without_a_link_type(world: dict[str, Any], accept: str | None, target: str) -> None:
    headers = {"Accept": accept} if accept else {}
    client = httpx.Client(base_url=str(_http(world).base_url), headers={"Accept": ""} if accept is None else {})
    with client:
        r = client.get(ITEM, headers=headers)
    assert r.status_code == 307
    assert r.headers["location"] == BASE + target.format(c=world["collection"], t=world["tokens"][0])


def _linkset(world: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    r = _http(world).get(ITEM, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/linkset+json"
    assert r.headers["access-control-allow-origin"] == "*"
    context = '<https://ref.gs1.org/standards/resolver/linkset-context>; rel="http://www.w3.org/ns/json-ld#context"'
    assert context in r.headers["link"]
    return dict(r.json())


def test_the_linkset_by_link_type_or_accept_is_valid_and_walks_up_to_the_gtin(world: dict[str, Any]) -> None:
    doc = _linkset(world, params={"linkType": "linkset"})
    assert _linkset(world, params={"linkType": "all"}) == doc  # `all` is deprecated, still answered
    assert _linkset(world, headers={"Accept": "application/linkset+json"}) == doc
    jsonschema.validate(doc, LINKSET_SCHEMA)  # the GS1 resolver's normative linkset schema
    anchors = [e["anchor"] for e in doc["linkset"]]
    assert anchors == [BASE + ITEM, f"{BASE}/01/{G14}/10/L-7", f"{BASE}/01/{G14}"]
    item = doc["linkset"][0]
    c, t = world["collection"], world["tokens"][0]
    assert item["https://ref.gs1.org/voc/pip"][0]["href"] == f"{BASE}/t/{c}/{t}"
    assert item["https://ref.gs1.org/voc/certificationInfo"][0]["href"] == f"{BASE}/v1/verify/{c}/{t}"
    assert item["https://ref.gs1.org/voc/dpp"][0]["href"] == f"{BASE}/v1/twins/{c}/{t}/passport"
    assert item["https://ref.gs1.org/voc/defaultLink"] == [{"href": f"{BASE}/t/{c}/{t}", "title": "Verification page"}]
    assert "R-1" in item["itemDescription"]
    gtin_level = doc["linkset"][2]
    assert gtin_level["https://ref.gs1.org/voc/masterData"][0]["href"] == f"{BASE}/v1/twins?gtin={G14}"


def test_query_strings_are_passed_on_byte_for_byte(world: dict[str, Any]) -> None:
    tap = "picc_data=EF963FF7828658A599F3041510671E88&cmac=94EED9EE65337086"
    for query in (f"{tap}&linkType=gs1%3Apip", f"linkType=gs1:pip&{tap}", tap):
        r = _http(world).get(f"{ITEM}?{query}")
        assert r.headers["location"] == f"{page(world)}?{tap}", query
    odd = _http(world).get(f"{ITEM}?a=1%2B1&b=&linkType=gs1:dpp&c=%E4%B8%AD")
    assert odd.headers["location"].endswith("/passport?a=1%2B1&b=&c=%E4%B8%AD")


def test_an_unknown_link_type_is_a_404_that_points_at_the_linkset(world: dict[str, Any]) -> None:
    r = _http(world).get(ITEM, params={"linkType": "gs1:recallStatus"})
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == PROBLEM + "not-found" and "gs1:dpp" in r.json()["detail"]
    assert 'rel="linkset"' in r.headers["link"] and r.headers["access-control-allow-origin"] == "*"
    assert "location" not in r.headers


@pytest.mark.parametrize(
    ("path", "why"),
    [
        (f"/01/{G14[:-1]}{(int(G14[-1]) + 1) % 10}/21/R-1", "check digit"),
        (f"/01/{G14}/21/R-1/10/L-7", "out of order"),
        (f"/01/{G14}/21/R%20-1", "character set 82"),
        (f"/01/{G14}/21/{'X' * 21}", "at most 20"),
        (f"/01/{G14}/21/R-1/foo", "pairs"),
        (f"/01/{G14}/17/261231", "not a key qualifier"),
        ("/01/123/21/R-1", "8, 12, 13 or 14 digits"),
    ],
)
def test_syntax_errors_are_400_problems(world: dict[str, Any], path: str, why: str) -> None:
    r = _http(world).get(path)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == PROBLEM + "invalid-digital-link" and why in r.json()["detail"]
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "path",
    [
        f"/01/{gtin('400638133393').zfill(14)}/21/R-1",  # a valid GTIN nobody minted
        f"/01/{G14}/21/FORGED-9",  # a known GTIN, an unknown serial: never walked up
        f"/01/{G14}/10/OTHER/21/R-1",  # the twin is not in that lot
        f"/01/{G14}/10/NOPE",  # a lot with no twin
        f"/01/{G14}/22/BLUE/21/R-1",  # twins record no consumer product variant
    ],
)
def test_identifiers_without_a_twin_are_404(world: dict[str, Any], path: str) -> None:
    r = _http(world).get(path)
    assert r.status_code == 404 and r.json()["type"] == PROBLEM + "not-found", r.text
    assert "location" not in r.headers


def test_a_product_class_resolves_to_its_twins(world: dict[str, Any]) -> None:
    for path in (f"/01/{G14}", f"/01/{G14}/10/L-7"):
        r = _http(world).get(path)
        assert (r.status_code, r.headers["location"]) == (307, f"{BASE}/v1/twins?gtin={G14}"), path
    listed = _http(world).get(f"/v1/twins?gtin={G14}").json()["twins"]
    assert sorted(t["serial"] for t in listed) == ["R-1", "R/2"]
    doc = _http(world).get(f"/01/{G14}/10/L-7", params={"linkType": "linkset"}).json()
    jsonschema.validate(doc, LINKSET_SCHEMA)
    assert [e["anchor"] for e in doc["linkset"]] == [f"{BASE}/01/{G14}/10/L-7", f"{BASE}/01/{G14}"]
    assert _http(world).get(f"/01/{G14}", params={"linkType": "gs1:pip"}).status_code == 404  # a class has no page


def test_head_answers_like_get_without_a_body(world: dict[str, Any]) -> None:
    for params in ({}, {"linkType": "linkset"}, {"linkType": "gs1:nothing"}):
        got, head = _http(world).get(ITEM, params=params), _http(world).head(ITEM, params=params)
        assert head.status_code == got.status_code and head.content == b""
        for name in ("location", "link", "content-type", "access-control-allow-origin"):
            assert head.headers.get(name) == got.headers.get(name), name
    bad = _http(world).head(f"/01/{G14}/21/R-1/foo")
    assert bad.status_code == 400 and bad.content == b""


def test_options_lists_the_methods_and_answers_cors_preflights(world: dict[str, Any]) -> None:
    r = _http(world).options(
        ITEM, headers={"Origin": "https://scanner.example", "Access-Control-Request-Method": "GET"}
    )
    assert r.status_code == 204
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert {m.strip() for m in r.headers["access-control-allow-methods"].split(",")} == {"GET", "HEAD", "OPTIONS"}
    assert r.headers["access-control-allow-origin"] == "*"
    assert {"Link", "Location"} <= {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}


def test_the_resolver_description_file(world: dict[str, Any]) -> None:
    r = _http(world).get("/.well-known/gs1resolver")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    doc = r.json()
    assert doc["resolverRoot"] == BASE and doc["supportedPrimaryKeys"] == ["01"]
    assert doc["name"] and doc["linkTypeDefaultCanBeLinkset"] is False and doc["validatesAIcombinations"] is True
    assert {"namespace": "https://ref.gs1.org/voc/", "prefix": "gs1:"} in doc["supportedLinkType"]
    assert {"gs1:pip", "gs1:certificationInfo", "gs1:dpp"} <= set(doc["activeLinkTypes"]["en"])


def _selects(world: dict[str, Any]) -> Iterator[list[str]]:
    """The statements the service's database runs meanwhile."""
    engine = world["stack"].runtime.engine
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        seen.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def test_a_label_resolved_again_is_answered_from_memory_with_its_own_query(world: dict[str, Any]) -> None:
    """The second scan of a label within the minute reads nothing from the database, and answers as
    the first did: same target, same headers, this request's query string passed on."""
    first = _http(world).get(ITEM, params={"src": "qr"}, headers={"Accept": "text/html"})
    assert first.status_code == 307
    # The first scan is written (its twin looked up by GTIN) by the scan writer in the background:
    # let it finish, so that only the second request's own reads are counted.
    assert world["stack"].runtime.scans.flush()
    with contextmanager(_selects)(world) as seen:
        again = _http(world).get(ITEM + "?picc_data=AB12&cmac=CD34", headers={"Accept": "text/html"})
        twins_read = [s for s in seen if "FROM twins" in s]
    assert again.status_code == 307 and twins_read == []
    assert again.headers["location"] == page(world) + "?picc_data=AB12&cmac=CD34"
    assert first.headers["location"] == page(world) + "?src=qr"
    assert {k: v for k, v in again.headers.items() if k in ("link", "vary", "access-control-allow-origin")} == {
        k: v for k, v in first.headers.items() if k in ("link", "vary", "access-control-allow-origin")
    }
    # Another Accept is another decision: the verdict, decided afresh.
    verdict = _http(world).get(ITEM, headers={"Accept": "application/json"})
    assert verdict.status_code == 307 and "/v1/verify/" in verdict.headers["location"]


def test_an_unknown_serial_is_asked_again_and_resolves_once_minted(world: dict[str, Any]) -> None:
    """A 404 is never remembered: the serial minted a moment later resolves at once."""
    path = f"/01/{G14}/21/LATE-1"
    assert _http(world).get(path, headers={"Accept": "text/html"}).status_code == 404
    stack = world["stack"]
    body = {"twins": [physical("LATE-1", image=world["image"], code=CODE)]}
    job = stack.client.post("/v1/batches", json=body, headers=world["headers"]).json()
    token = stack.wait_job(world["headers"], job["id"])["twins"][0]["token_id"]
    r = _http(world).get(path, headers={"Accept": "text/html"})
    assert r.status_code == 307 and r.headers["location"] == f"{BASE}/t/{world['collection']}/{token}"


def test_a_database_outage_is_the_apps_503_with_retry_after(world: dict[str, Any]) -> None:
    """The resolver reads the database in its own trip to the thread pool: an outage there still gets
    the app's answer to one (503 problem, Retry-After), not a resolver problem of its own."""
    engine = world["stack"].runtime.engine
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE twins RENAME TO twins_away"))
    try:
        r = _http(world).get(f"/01/{G14}/21/NEVER-ASKED", headers={"Accept": "text/html"})
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE twins_away RENAME TO twins"))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["type"] == PROBLEM + "database-unavailable"
    assert _http(world).get(f"/01/{G14}/21/NEVER-ASKED").status_code == 404  # back: asked again
