"""CSV uploads from the console, checked row by row so a refusal can name every bad row in place (row
number as a spreadsheet shows it, column, message) instead of the API's first error only. Twins are
read by the CLI's and API's own row parser (`api.routes.minting.csv_twin`) and validated with the API's
own models; nothing is stored when any row is refused."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session, col, select

from api.routes.minting import csv_twin
from registry.jobs.models import Identifier
from registry.nfc.schemas import TagIn
from registry.twins.schemas import PhysicalTwinIn, TwinIn

MAX_LISTED = 200  # a 50,000-row file with a bad column: the first rows' errors say enough
_TWIN = TypeAdapter(TwinIn)


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet's row number: the header is row 1
    column: str
    message: str


def _rows(text: str) -> tuple[list[str], list[tuple[int, dict[str, str | None]]], list[RowError]]:
    reader = csv.DictReader(io.StringIO(text))
    rows, errors = [], []
    for row in reader:
        line = reader.line_num  # blank lines skipped by the reader still count, as in a spreadsheet
        if None in row:
            errors.append(RowError(line, "", "more fields than the header"))
            continue
        rows.append((line, dict(row)))
    return list(reader.fieldnames or []), rows, errors


def column_of(loc: tuple[int | str, ...]) -> str:
    """The CSV column a pydantic error location points at (`('physical', 'attributes', 'x')` -> `attr:x`)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts and parts[0] in ("physical", "virtual"):
        parts = parts[1:]
    if len(parts) >= 2 and parts[0] == "attributes":
        return f"attr:{parts[1]}"
    return parts[0] if parts else ""


def message_of(error: Any) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


Numbered = list[tuple[int, PhysicalTwinIn]]


def read_twins(raw: bytes) -> tuple[Numbered, list[RowError]]:
    """The CSV's twins with their row numbers, or every row error found (and then no twin)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "", "the file is not UTF-8 text")]
    _, rows, errors = _rows(text)
    twins: Numbered = []
    for line, row in rows:
        try:
            item = csv_twin(row)
        except ValueError:
            errors.append(RowError(line, "materials", "a percentage is not a number (name:percent;...)"))
            continue
        try:
            twin = _TWIN.validate_python(item)
        except ValidationError as exc:
            errors += [RowError(line, column_of(e["loc"]), message_of(e)) for e in exc.errors()]
            continue
        if not isinstance(twin, PhysicalTwinIn):  # the CSV parser makes physical twins only
            continue
        if twin.claimable:
            # Claim secrets are sealed under the submitting API key; a console session has none.
            errors.append(RowError(line, "claimable", "claimable twins are minted with an API key (CLI or API)"))
            continue
        twins.append((line, twin))
    if not rows and not errors:
        errors.append(RowError(1, "", "the CSV has no rows"))
    counts = Counter((t.gtin, t.serial) for _, t in twins)
    errors += [
        RowError(line, "serial", f"GTIN {t.gtin} with serial {t.serial} is repeated in the file")
        for line, t in twins
        if counts[(t.gtin, t.serial)] > 1
    ]
    return (twins if not errors else []), sorted(errors, key=lambda e: e.row)[:MAX_LISTED]


def taken(session: Session, twins: Numbered) -> list[RowError]:
    """Rows whose GTIN and serial already have a twin (the submission refuses them too, first one only)."""
    by_gtin: dict[str, dict[str, int]] = {}
    for line, t in twins:
        by_gtin.setdefault(t.gtin, {})[t.serial] = line
    errors = []
    for gtin, serials in by_gtin.items():
        names = list(serials)
        for i in range(0, len(names), 500):
            query = select(Identifier).where(Identifier.gtin == gtin, col(Identifier.serial).in_(names[i : i + 500]))
            errors += [
                RowError(serials[r.serial], "serial", f"GTIN {gtin} with serial {r.serial} already has a twin")
                for r in session.exec(query)
            ]
    return sorted(errors, key=lambda e: e.row)[:MAX_LISTED]


@dataclass(frozen=True)
class TagRow:
    row: int
    contract: str | None
    token_id: int | None
    gtin: str | None
    serial: str | None
    tag: TagIn


TAG_COLUMNS = ("contract", "token_id", "gtin", "serial", "type", "uid", "address", "public_key", "signature")


def read_tags(raw: bytes) -> tuple[list[TagRow], list[RowError]]:
    """Tag identities to enrol: the twin by `contract` (optional: the brand's first collection) and
    `token_id`, or by `gtin` and `serial`; the tag by `uid` (NTAG 424, the default `type`) or, for a
    HaLo chip, `address`/`public_key` with its enrolment `signature`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, "", "the file is not UTF-8 text")]
    header, rows, errors = _rows(text)
    unknown = [c for c in header if c not in TAG_COLUMNS]
    if unknown:
        return [], [RowError(1, unknown[0], f"unknown column (expected {', '.join(TAG_COLUMNS)})")]
    out = []
    for line, row in rows:
        cells = {k: (v or "").strip() for k, v in row.items() if (v or "").strip()}
        token: int | None = None
        if "token_id" in cells:
            try:
                token = int(cells["token_id"])
            except ValueError:
                errors.append(RowError(line, "token_id", "not a whole number"))
                continue
        elif not ("gtin" in cells and "serial" in cells):
            errors.append(RowError(line, "token_id", "name the twin by token_id, or by gtin and serial"))
            continue
        body = {k: cells[k] for k in ("uid", "address", "public_key", "signature") if k in cells}
        try:
            tag = TagIn.model_validate({"type": cells.get("type", "ntag424"), **body})
        except ValidationError as exc:
            errors += [RowError(line, column_of(e["loc"]) or "uid", message_of(e)) for e in exc.errors()]
            continue
        out.append(TagRow(line, cells.get("contract"), token, cells.get("gtin"), cells.get("serial"), tag))
    if not rows and not errors:
        errors.append(RowError(1, "", "the CSV has no rows"))
    return out, errors[:MAX_LISTED]  # the well-formed rows too: enrolling them finds their own errors
