"""Links of an identified thing, the RFC 9264 linkset that lists them, the RFC 8288 `Link` header,
and the decision a GS1-Conformant resolver takes for a request (GS1-Conformant Resolver 1.2):

- `linkType=linkset` (or the deprecated `all`), or an `Accept` naming `application/linkset+json`:
  the linkset itself (200, no redirect);
- `linkType=<a link type>` (CURIE `gs1:pip` or the full `https://ref.gs1.org/voc/pip`): a redirect
  to that link; a type the identifier has no link of: 404 (with the linkset in the `Link` header,
  as the GS1 reference resolver does), never a silent redirect somewhere else;
- no `linkType`: content negotiation on `Accept`. HTML (and `*/*`, no header) gets the default link
  (`gs1:defaultLink`; for an item it is `gs1:pip`, the verification page, the GS1 default); a client
  preferring `application/json` gets the JSON default, for an item `gs1:certificationInfo` (the
  authenticity verdict, which also carries the twin's metadata), for a product class `gs1:masterData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

GS1_VOC = "https://ref.gs1.org/voc/"
# Older and alternative spellings of the GS1 Web vocabulary namespace that clients still send.
_VOC_ALIASES = ("https://ref.gs1.org/voc/", "https://gs1.org/voc/", "http://gs1.org/voc/", "https://www.gs1.org/voc/")
LINKSET_TYPE = "application/linkset+json"
LINKSET_CONTEXT = "https://ref.gs1.org/standards/resolver/linkset-context"
LINKSET_REQUESTS = ("linkset", "all")  # `all` is deprecated since resolver 1.0.0 but still answered


@dataclass(frozen=True)
class Link:
    href: str
    title: str
    type: str | None = None
    hreflang: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One link context: an identifier (the anchor) with its links by GS1 link type (short name)."""

    anchor: str
    description: str
    links: dict[str, Link]
    default: str  # the link type that is the default link
    json_default: str  # the link type a JSON client gets without asking for one
    extra: dict[str, list[Link]] = field(default_factory=dict)  # other relations (IANA names)


def _target(link: Link) -> dict[str, Any]:
    """The link target object of a linkset (RFC 9264 section 4.2.2)."""
    target: dict[str, Any] = {"href": link.href, "title": link.title}
    if link.type:
        target["type"] = link.type
    if link.hreflang:
        target["hreflang"] = list(link.hreflang)
    return target


def _context(entry: Entry) -> dict[str, Any]:
    """One link context object: the anchor, its description, one list of targets per relation."""
    out: dict[str, Any] = {"anchor": entry.anchor, "itemDescription": entry.description}
    for name, link in entry.links.items():
        out[GS1_VOC + name] = [_target(link)]
    # The default carries a title and nothing else (resolver standard, section on gs1:defaultLink).
    default = entry.links[entry.default]
    out[GS1_VOC + "defaultLink"] = [{"href": default.href, "title": default.title}]
    for rel, links in entry.extra.items():
        out[rel] = [_target(link) for link in links]
    return out


def linkset(entries: list[Entry]) -> dict[str, Any]:
    """The RFC 9264 JSON linkset: the requested identifier first, then each level up to the GTIN.

    A dict on purpose: it is the wire form of `application/linkset+json` (served as bytes, valid
    against the GS1 resolver's linkset schema), whose relation names are link-type URIs, keys no
    model can list; `registry.resolver.schemas.Linkset` describes it for the OpenAPI document."""
    return {"linkset": [_context(e) for e in entries]}


def linkset_url(anchor: str) -> str:
    return f"{anchor}?linkType=linkset"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def link_header(entry: Entry) -> str:
    """RFC 8288 `Link` value: the linkset first (what the standard asks for), then each link with its
    full link-type URI as the relation (a short list: three links per twin)."""
    title = _quoted("Linkset for " + entry.anchor)
    parts = [f'<{linkset_url(entry.anchor)}>; rel="linkset"; type="{LINKSET_TYPE}"; title={title}']
    for name, link in entry.links.items():
        part = f'<{link.href}>; rel="{GS1_VOC}{name}"; title={_quoted(link.title)}'
        if link.type:
            part += f'; type="{link.type}"'
        parts.append(part)
    return ", ".join(parts)


def normalise_link_type(value: str) -> str:
    """`gs1:pip`, `https://ref.gs1.org/voc/pip` (or another spelling of the namespace) -> `pip`;
    anything else is returned as given (it then matches no link)."""
    if value.startswith("gs1:"):
        return value[4:]
    for namespace in _VOC_ALIASES:
        if value.startswith(namespace):
            return value[len(namespace) :]
    return value


# ---------------------------------------------------------------- content negotiation

Media = Literal["html", "json", "linkset"]
_CANDIDATES: dict[Media, tuple[str, str]] = {
    "html": ("text", "html"),
    "json": ("application", "json"),
    "linkset": ("application", "linkset+json"),
}


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    found = []
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if "/" not in media:
            continue
        kind, _, sub = media.lower().partition("/")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        found.append((kind, sub, q))
    return found


def _match(candidate: tuple[str, str], ranges: list[tuple[str, str, float]]) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching the candidate; (0, -1) if none does."""
    best = (0.0, -1)
    for kind, sub, q in ranges:
        if (kind, sub) == candidate:
            spec = 2
        elif kind == candidate[0] and sub == "*":
            spec = 1
        elif (kind, sub) == ("*", "*"):
            spec = 0
        else:
            continue
        if spec > best[1]:
            best = (q, spec)
    return best


def negotiate(accept: str | None) -> Media:
    """What an `Accept` header asks for. The linkset only when named explicitly (a browser's `*/*`
    must not get JSON); between HTML and JSON the higher q wins, then the more specific range, then
    HTML (the GS1 default link is the human page)."""
    if not accept:
        return "html"
    ranges = _ranges(accept)
    html, json_, linkset_ = (_match(_CANDIDATES[m], ranges) for m in ("html", "json", "linkset"))
    if linkset_[1] == 2 and linkset_[0] > 0 and linkset_[0] >= max(html[0], json_[0]):
        return "linkset"
    if json_[0] > 0 and json_ > html:
        return "json"
    return "html"


@dataclass(frozen=True)
class Decision:
    action: Literal["redirect", "linkset", "not-found"]
    link: Link | None = None
    detail: str = ""


def decide(entry: Entry, link_type: str | None, accept: str | None) -> Decision:
    if link_type is not None:
        if link_type in LINKSET_REQUESTS:
            return Decision("linkset")
        name = normalise_link_type(link_type)
        if name == "defaultLink":
            return Decision("redirect", entry.links[entry.default])
        if name in entry.links:
            return Decision("redirect", entry.links[name])
        offered = ", ".join(["linkset", *(f"gs1:{n}" for n in entry.links)])
        return Decision("not-found", detail=f"no {link_type!r} link for {entry.anchor}; offered: {offered}")
    media = negotiate(accept)
    if media == "linkset":
        return Decision("linkset")
    return Decision("redirect", entry.links[entry.json_default if media == "json" else entry.default])
