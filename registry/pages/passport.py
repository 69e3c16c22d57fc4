"""A physical twin's passport (product details, EU DPP fields, NFC bindings) as labelled rows."""

from __future__ import annotations

from typing import Any

from registry.pages.schemas import Row


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def details(passport: dict[str, Any], texts: dict[str, str]) -> list[Row]:
    rows = [
        Row(label=texts[key], values=[str(passport[key])]) for key in ("gtin", "serial", "lot") if passport.get(key)
    ]
    materials = [
        f"{m['name']} {_number(m['percent'])} %" if m.get("percent") is not None else str(m["name"])
        for m in passport.get("materials") or []
        if isinstance(m, dict) and m.get("name")
    ]
    if materials:
        rows.append(Row(label=texts["materials"], values=materials))
    for key in ("origin_country", "manufactured_on", "care"):
        if passport.get(key):
            rows.append(Row(label=texts[key], values=[str(passport[key])]))
    return rows


def dpp_rows(dpp: Any, texts: dict[str, str]) -> list[Row]:
    """The EU Digital Product Passport fields present, labelled in the page's language."""
    if not isinstance(dpp, dict):
        return []
    try:
        return _dpp_rows(dpp, texts)
    except (KeyError, TypeError, AttributeError, ValueError):
        # Content minted through this API is validated; anything else is shown without its DPP block
        # rather than failing the page (its integrity is the verdict's business, not the layout's).
        return []


def _dpp_rows(dpp: dict[str, Any], texts: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    if dpp.get("category"):
        rows.append(
            Row(label=texts["dpp_category"], values=[texts.get(f"category_{dpp['category']}", dpp["category"])])
        )
    fibres = [
        f"{f['fibre']} {_number(f['percent'])} %" + (f" ({texts['dpp_recycled']})" if f.get("recycled") else "")
        for f in dpp.get("fibre_composition") or []
    ]
    if fibres:
        rows.append(Row(label=texts["dpp_fibre_composition"], values=fibres))
    if dpp.get("recycled_content_percent") is not None:
        rows.append(Row(label=texts["dpp_recycled_content"], values=[f"{_number(dpp['recycled_content_percent'])} %"]))
    steps = [
        f"{texts.get('step_' + s['step'], s['step'])}: {s['country']}"
        + (f", {s['facility']}" if s.get("facility") else "")
        for s in dpp.get("origin_steps") or []
    ]
    if steps:
        rows.append(Row(label=texts["dpp_origin_steps"], values=steps))
    if dpp.get("care_instructions"):
        rows.append(Row(label=texts["dpp_care_instructions"], values=[str(c) for c in dpp["care_instructions"]]))
    repair = dpp.get("repair") or {}
    if repair.get("instructions"):
        rows.append(Row(label=texts["dpp_repair"], values=[str(repair["instructions"])]))
    if repair.get("service_url"):
        url = str(repair["service_url"])
        rows.append(
            Row(label=texts["dpp_repair_service"], values=[url], link=url if url.startswith("https://") else None)
        )
    if repair.get("spare_parts_available") is not None:
        rows.append(
            Row(label=texts["dpp_spare_parts"], values=[texts["yes" if repair["spare_parts_available"] else "no"]])
        )
    substances = [
        s["name"]
        + (f" ({texts['dpp_cas']} {s['cas']})" if s.get("cas") else "")
        + (f" {_number(s['concentration_percent'])} %" if s.get("concentration_percent") is not None else "")
        for s in dpp.get("substances_of_concern") or []
    ]
    if substances:
        rows.append(Row(label=texts["dpp_substances"], values=substances))
    return rows


def nfc_lines(tags: Any, texts: dict[str, str]) -> list[str]:
    """The NFC tags the content binds to the twin."""
    out = []
    for tag in tags if isinstance(tags, list) else []:
        if not isinstance(tag, dict):
            continue
        if tag.get("type") == "ntag424" and tag.get("uid_sha256"):
            out.append(texts["nfc_ntag424"].format(uid=str(tag["uid_sha256"])[:16] + "…"))
        elif tag.get("type") == "halo" and tag.get("address"):
            out.append(texts["nfc_halo"].format(address=tag["address"]))
    return out
