"""Parsing a GS1 Digital Link request path against the GS1 Digital Link path grammar for a GTIN:

    gtin-path = "/01/" gtin [ "/22/" cpv ] [ "/10/" lot ] [ "/21/" serial ]

Values are percent-decoded one segment at a time (a serial may hold an encoded "/"), then checked:
the GTIN's length and check digit (8, 12, 13 or 14 digits, normalised to 14), each qualifier in
the character set 82 and at most 20 characters, qualifiers in the grammar's order, none repeated.
Any fault is a 400 (the resolver standard: syntax errors are reported with 400)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from registry.errors import InvalidInput
from registry.twins.gs1 import GTIN_QUALIFIERS, digital_link, normalize_gtin, validate_ai_value


class InvalidDigitalLink(InvalidInput):
    """A request path that is not a syntactically valid GS1 Digital Link URI."""

    code, status, title = "invalid-digital-link", 400, "Invalid GS1 Digital Link URI"


@dataclass(frozen=True)
class DigitalLink:
    gtin: str  # 14 digits
    cpv: str | None = None
    lot: str | None = None
    serial: str | None = None

    def uri(self, base_url: str) -> str:
        """The canonical URI: GTIN-14, qualifiers in grammar order, percent-encoded."""
        return digital_link(base_url, self.gtin, self.serial, self.lot, self.cpv)

    def up(self) -> DigitalLink:
        """The identifier one level up the tree: GTIN + serial -> GTIN (+ lot)... -> the GTIN alone."""
        if self.serial is not None:
            return DigitalLink(self.gtin, self.cpv, self.lot)
        if self.lot is not None:
            return DigitalLink(self.gtin, self.cpv)
        return DigitalLink(self.gtin)


_ORDER = list(GTIN_QUALIFIERS)


def _decode(segment: str) -> str:
    try:
        return unquote_to_bytes(segment).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidDigitalLink(f"path segment {segment!r} is not valid percent-encoded UTF-8") from None


def parse_path(raw_path: str) -> DigitalLink:
    """The identifier in a raw (still percent-encoded) request path starting with `/01/`.

    A trailing slash is tolerated (the standard: a resolver SHOULD NOT fail on one)."""
    path = raw_path.split("?", 1)[0]
    if path.endswith("/") and path != "/":
        path = path[:-1]
    segments = path.split("/")[1:]
    if len(segments) < 2 or segments[0] != "01":
        raise InvalidDigitalLink("a GS1 Digital Link path starts with /01/{gtin}")
    if len(segments) % 2:
        raise InvalidDigitalLink(f"path {raw_path!r} is not a sequence of /{{AI}}/{{value}} pairs")
    try:
        gtin = normalize_gtin(_decode(segments[1]))
    except InvalidDigitalLink:
        raise
    except InvalidInput as exc:
        raise InvalidDigitalLink(exc.detail) from None
    values: dict[str, str] = {}
    last = -1
    for ai, encoded in zip(segments[2::2], segments[3::2], strict=True):
        if ai not in GTIN_QUALIFIERS:
            allowed = ", ".join(f"{a} ({GTIN_QUALIFIERS[a][0]})" for a in _ORDER)
            raise InvalidDigitalLink(f"AI {ai!r} is not a key qualifier of a GTIN in a path; allowed: {allowed}")
        position = _ORDER.index(ai)
        if ai in values:
            raise InvalidDigitalLink(f"AI {ai} appears twice")
        if position < last:
            order = " then ".join(f"/{a}/" for a in _ORDER)
            raise InvalidDigitalLink(f"AI {ai} is out of order: the qualifiers of a GTIN come as {order}")
        last = position
        name, max_length = GTIN_QUALIFIERS[ai]
        try:
            values[ai] = validate_ai_value(_decode(encoded), f"{name} (AI {ai})", max_length)
        except InvalidDigitalLink:
            raise
        except InvalidInput as exc:
            raise InvalidDigitalLink(exc.detail) from None
    return DigitalLink(gtin, values.get("22"), values.get("10"), values.get("21"))
