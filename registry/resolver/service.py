"""Resolving a GS1 Digital Link to the registry's twins, and the links each level offers.

What an identifier resolves to (decided here, documented in the README section of issue 13):
- GTIN + serial (with or without its lot): the twin; its links are the verification page
  (`gs1:pip`, the default), the verdict (`gs1:certificationInfo`) and the passport (`gs1:dpp`).
  A lot in the path must be the twin's lot.
- GTIN, or GTIN + lot, without a serial (a product class): answered when twins of it exist, with
  `gs1:masterData` (the registry's list of the GTIN's twins, JSON) as its default link.
- An unknown serial is a 404 even when its GTIN is known: the resolver never walks up from a serial
  it has no twin for, so a forged serial never lands on a page that could pass for its passport.
- A consumer product variant (AI 22) parses, but twins record no variant: 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlmodel import Session

from registry.errors import NotFound
from registry.resolver.links import Entry, Link
from registry.resolver.path import DigitalLink
from registry.twins.models import Twin
from registry.twins.service import find_twins, twin_lot

# The verification page is offered in these languages (chosen from Accept-Language on the page).
PAGE_LANGUAGES = ("en", "zh")


def item_links(base_url: str, twin: Twin) -> dict[str, Link]:
    c, t = twin.collection, twin.token_id
    return {
        "pip": Link(f"{base_url}/t/{c}/{t}", "Verification page", "text/html", PAGE_LANGUAGES),
        "certificationInfo": Link(
            f"{base_url}/v1/verify/{c}/{t}", "Authenticity verdict (chain and content checks)", "application/json"
        ),
        "dpp": Link(f"{base_url}/v1/twins/{c}/{t}/passport", "Digital product passport", "application/json"),
    }


def _class_entry(base_url: str, dl: DigitalLink) -> Entry:
    what = f"GTIN {dl.gtin}" + (f", lot {dl.lot}" if dl.lot else "")
    master = Link(
        f"{base_url}/v1/twins?{urlencode({'gtin': dl.gtin})}",
        f"Twins of GTIN {dl.gtin} in the registry",
        "application/json",
    )
    return Entry(dl.uri(base_url), f"Product class: {what}", {"masterData": master}, "masterData", "masterData")


def resolve(session: Session, base_url: str, dl: DigitalLink) -> list[Entry]:
    """The entries of the linkset for `dl`: its own first, then each level up to the bare GTIN.
    NotFound when the identifier names nothing the registry holds. An item costs one indexed query."""
    base_url = base_url.rstrip("/")
    if dl.cpv is not None:
        raise NotFound(f"no twin of GTIN {dl.gtin} with consumer product variant {dl.cpv!r} (twins record none)")
    entries: list[Entry] = []
    if dl.serial is not None:
        twin = next((t for t in find_twins(session, dl.gtin, dl.serial) if t.kind == "physical"), None)
        if twin is None:
            raise NotFound(f"no twin with GTIN {dl.gtin} and serial {dl.serial!r}")
        if dl.lot is not None and twin_lot(twin) != dl.lot:
            raise NotFound(f"no twin with GTIN {dl.gtin} and serial {dl.serial!r} in lot {dl.lot!r}")
        links = item_links(base_url, twin)
        entries.append(
            Entry(dl.uri(base_url), f"{twin.name} (serial {twin.serial})", links, "pip", "certificationInfo")
        )
        dl = dl.up()
    else:  # a product class: answered only when the registry holds twins of it
        twins = [t for t in find_twins(session, dl.gtin, None) if t.kind == "physical"]
        if dl.lot is not None:
            twins = [t for t in twins if twin_lot(t) == dl.lot]
        if not twins:
            raise NotFound(f"no twin with GTIN {dl.gtin}" + (f" in lot {dl.lot!r}" if dl.lot is not None else ""))
    while True:
        entries.append(_class_entry(base_url, dl))
        if dl.lot is None:
            return entries
        dl = dl.up()
