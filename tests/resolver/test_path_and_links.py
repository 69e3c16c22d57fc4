"""GS1 Digital Link path grammar, AI syntax, link-type names and content negotiation (no stack)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from registry.resolver.links import Entry, Link, decide, link_header, linkset, negotiate, normalise_link_type
from registry.resolver.path import DigitalLink, InvalidDigitalLink, parse_path

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "gs1-vectors.json").read_text())


@pytest.mark.parametrize("case", VECTORS["digital_links"], ids=lambda c: c["uri"])
def test_the_vectors_parse_to_their_identifiers(case: dict[str, str]) -> None:
    dl = parse_path(urlsplit(case["uri"]).path)
    assert (dl.gtin, dl.lot, dl.serial) == (case["gtin"], case.get("batch"), case["serial"])
    base = case["uri"].split("/01/")[0]
    assert dl.uri(base) == case["uri"]  # canonical form round-trips


@pytest.mark.parametrize("gtin", VECTORS["valid_gtins"])
def test_every_gtin_length_is_normalised_to_14(gtin: str) -> None:
    assert parse_path(f"/01/{gtin}/21/X").gtin == gtin.zfill(14)


@pytest.mark.parametrize("gtin", [g for g in VECTORS["invalid_gtins"] if g])
def test_bad_gtins_are_syntax_errors(gtin: str) -> None:
    with pytest.raises(InvalidDigitalLink) as err:
        parse_path(f"/01/{gtin}/21/X")
    assert err.value.status == 400


def test_qualifiers_and_their_order() -> None:
    assert parse_path("/01/09521234543213/22/V2/10/L1/21/S1") == DigitalLink("09521234543213", "V2", "L1", "S1")
    assert parse_path("/01/09521234543213/10/L1") == DigitalLink("09521234543213", lot="L1")
    assert parse_path("/01/09521234543213/") == DigitalLink("09521234543213")  # trailing slash tolerated
    for wrong in ("/01/09521234543213/21/S1/10/L1", "/01/09521234543213/10/L1/22/V"):
        with pytest.raises(InvalidDigitalLink, match="out of order"):
            parse_path(wrong)
    with pytest.raises(InvalidDigitalLink, match="twice"):
        parse_path("/01/09521234543213/21/A/21/B")
    with pytest.raises(InvalidDigitalLink, match="not a key qualifier"):
        parse_path("/01/09521234543213/17/261231")  # a data attribute belongs in the query string
    with pytest.raises(InvalidDigitalLink, match="pairs"):
        parse_path("/01/09521234543213/21/S1/foo")  # what the GS1 test suite sends to expect a 400


def test_values_are_percent_decoded_then_checked_against_set_82() -> None:
    assert parse_path("/01/09521234543213/21/A%2FB%25C").serial == "A/B%C"  # an encoded slash stays a value
    assert parse_path("/01/09521234543213/21/%21%22%26%27%28%29*+,-.:;<=>%3F_").serial == "!\"&'()*+,-.:;<=>?_"
    for bad, why in (
        ("S%20N", "character set 82"),  # space
        ("S%C3%A9", "character set 82"),  # é
        ("S~N", "character set 82"),
        ("S%FFN", "percent-encoded UTF-8"),
        ("A" * 21, "at most 20"),
    ):
        with pytest.raises(InvalidDigitalLink, match=why):
            parse_path(f"/01/09521234543213/21/{bad}")
    assert parse_path("/01/09521234543213/21/" + "A" * 20).serial == "A" * 20


def test_link_type_names() -> None:
    for spelling in ("gs1:pip", "https://ref.gs1.org/voc/pip", "https://gs1.org/voc/pip", "http://gs1.org/voc/pip"):
        assert normalise_link_type(spelling) == "pip"
    assert normalise_link_type("schema:pip") == "schema:pip"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "html"),
        ("*/*", "html"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),
        ("application/json", "json"),
        ("application/json, text/html;q=0.5", "json"),
        ("text/html, application/json", "html"),  # a tie goes to the human page
        ("application/*", "json"),
        ("application/linkset+json", "linkset"),
        ("application/linkset+json;q=0.1, text/html", "html"),
        ("application/json;q=0, text/plain", "html"),
        ("garbage", "html"),
    ],
)
def test_negotiation(accept: str | None, media: str) -> None:
    assert negotiate(accept) == media


def _entry() -> Entry:
    links = {
        "pip": Link("https://r.example/t/0xC/1", "Verification page", "text/html", ("en", "zh")),
        "certificationInfo": Link("https://r.example/v1/verify/0xC/1", "Verdict", "application/json"),
        "dpp": Link("https://r.example/v1/twins/0xC/1/passport", "Passport", "application/json"),
    }
    return Entry("https://r.example/01/09521234543213/21/S1", "Bag, serial S1", links, "pip", "certificationInfo")


def test_decisions() -> None:
    entry = _entry()
    assert decide(entry, "gs1:dpp", "text/html").link == entry.links["dpp"]  # linkType beats Accept
    assert decide(entry, "gs1:defaultLink", None).link == entry.links["pip"]
    assert decide(entry, None, "application/json").link == entry.links["certificationInfo"]
    assert decide(entry, None, None).link == entry.links["pip"]
    assert decide(entry, "linkset", None).action == decide(entry, "all", None).action == "linkset"
    assert decide(entry, None, "application/linkset+json").action == "linkset"
    unknown = decide(entry, "gs1:recallStatus", None)
    assert unknown.action == "not-found" and "gs1:dpp" in unknown.detail


def test_linkset_document_and_link_header() -> None:
    entry = _entry()
    doc = linkset([entry])
    first = doc["linkset"][0]
    assert first["anchor"] == entry.anchor and first["itemDescription"] == "Bag, serial S1"
    page = {"href": "https://r.example/t/0xC/1", "title": "Verification page"}
    assert first["https://ref.gs1.org/voc/pip"] == [page | {"type": "text/html", "hreflang": ["en", "zh"]}]
    assert first["https://ref.gs1.org/voc/defaultLink"] == [page]  # title only, as the standard asks
    header = link_header(entry)
    assert header.startswith(f'<{entry.anchor}?linkType=linkset>; rel="linkset"; type="application/linkset+json"')
    assert '<https://r.example/v1/twins/0xC/1/passport>; rel="https://ref.gs1.org/voc/dpp"' in header
