"""EIP-4361 (Sign-In with Ethereum) messages: a strict parser and serialiser following the EIP's ABNF.

Hand-written rather than the `siwe` package (it pins web3 < 8; this service runs web3 8). The grammar
pieces come from RFC 3986 (authority, URI, pchar), RFC 3339 (date-time) and EIP-55 (address
checksum); `tests/siwe` runs the official SIWE parsing vectors against it. Timestamps keep the text the
signer signed: a message is verified over its own bytes, never over a re-serialisation.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from web3 import Web3

from registry.errors import InvalidInput


class InvalidSiweMessage(InvalidInput):
    code, title = "invalid-siwe-message", "Not an EIP-4361 message"


# ---------------------------------------------------------------- RFC 3986 (Appendix A)
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_DEC_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9][0-9]|[0-9])"
_IPV4 = rf"{_DEC_OCTET}(?:\.{_DEC_OCTET}){{3}}"
_H16 = r"[0-9A-Fa-f]{1,4}"
_LS32 = rf"(?:{_H16}:{_H16}|{_IPV4})"
_IPV6 = "|".join(
    (
        rf"(?:{_H16}:){{6}}{_LS32}",
        rf"::(?:{_H16}:){{5}}{_LS32}",
        rf"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
        rf"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
        rf"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
        rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
        rf"(?:(?:{_H16}:){{0,6}}{_H16})?::",
    )
)
_IPVFUTURE = rf"[vV][0-9A-Fa-f]+\.[{_UNRESERVED}{_SUB_DELIMS}:]+"
_HOST = rf"(?:\[(?:{_IPV6}|{_IPVFUTURE})\]|(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*)"
_USERINFO = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_AUTHORITY = rf"(?:{_USERINFO}@)?{_HOST}(?::[0-9]*)?"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*"
_PATH_ABEMPTY = rf"(?:/{_PCHAR}*)*"
_HIER = rf"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*|)"
_QUERY = rf"(?:{_PCHAR}|[/?])*"
URI_RE = re.compile(rf"{_SCHEME}:{_HIER}(?:\?{_QUERY})?(?:#{_QUERY})?")
AUTHORITY_RE = re.compile(_AUTHORITY)
SCHEME_RE = re.compile(_SCHEME)
REQUEST_ID_RE = re.compile(rf"{_PCHAR}*")
# statement = *( reserved / unreserved / " " ): no line break, no percent sign, no other control or non-ASCII.
STATEMENT_RE = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]+")
NONCE_RE = re.compile(r"[A-Za-z0-9]{8,}")
ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
CHAIN_ID_RE = re.compile(r"[0-9]+")
# RFC 3339 date-time; "T" and "Z" may be lower case (RFC 3339 section 5.6, note).
# ASCII digits only: `\d` would also take other scripts' digits (e.g. Arabic-Indic), which int() reads.
DATE_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
_TAGS = ("URI: ", "Version: ", "Chain ID: ", "Nonce: ", "Issued At: ")
_OPTIONAL_TAGS = ("Expiration Time: ", "Not Before: ", "Request ID: ")


def parse_datetime(text: str, what: str = "timestamp") -> datetime:
    """An RFC 3339 date-time, range-checked (a leap second is read as the next instant)."""
    m = DATE_TIME_RE.fullmatch(text)
    if m is None:
        raise InvalidSiweMessage(f"{what} is not an RFC 3339 date-time: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year < 1 or not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise InvalidSiweMessage(f"{what} has no such date: {text!r}")
    if hour > 23 or minute > 59 or second > 60:
        raise InvalidSiweMessage(f"{what} has no such time: {text!r}")
    offset = timedelta(0)
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise InvalidSiweMessage(f"{what} has an impossible offset: {text!r}")
        offset = (1 if m.group(9) == "+" else -1) * timedelta(hours=oh, minutes=om)
    fraction = m.group(7) or ".0"
    micro = int((fraction[1:] + "000000")[:6])
    leap = second == 60
    try:  # the edges of datetime's range (year 1 with an offset, 9999-12-31T23:59:60Z) overflow
        base = datetime(year, month, day, hour, minute, 59 if leap else second, micro, tzinfo=UTC)
        return base + timedelta(seconds=1 if leap else 0) - offset
    except (ValueError, OverflowError):
        raise InvalidSiweMessage(f"{what} is outside the representable dates: {text!r}") from None


def is_uri(text: str) -> bool:
    return URI_RE.fullmatch(text) is not None


def _check_address(address: str) -> None:
    if ADDRESS_RE.fullmatch(address) is None:
        raise InvalidSiweMessage(f"address is not 0x and 40 hex digits: {address!r}")
    # The EIP requires EIP-55 capitalisation; a lower-case address is refused (not a mere warning), so
    # a typo in one letter can never pass as a different, unchecked address.
    if Web3.to_checksum_address(address) != address:
        raise InvalidSiweMessage(f"address is not in EIP-55 checksum form: {address!r}")


@dataclass(frozen=True)
class SiweMessage:
    """One EIP-4361 message. Construction validates every field; `text` is the canonical serialisation."""

    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = "1"
    scheme: str | None = None
    statement: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] | None = None  # None: no "Resources:" line; (): the line with no entry

    def __post_init__(self) -> None:
        if self.scheme is not None and SCHEME_RE.fullmatch(self.scheme) is None:
            raise InvalidSiweMessage(f"scheme is not an RFC 3986 scheme: {self.scheme!r}")
        if not self.domain or AUTHORITY_RE.fullmatch(self.domain) is None:
            raise InvalidSiweMessage(f"domain is not an RFC 3986 authority: {self.domain!r}")
        _check_address(self.address)
        if self.statement is not None and STATEMENT_RE.fullmatch(self.statement) is None:
            raise InvalidSiweMessage("statement must be one line of RFC 3986 reserved/unreserved characters and spaces")
        if not is_uri(self.uri):
            raise InvalidSiweMessage(f"URI is not an RFC 3986 URI: {self.uri!r}")
        if self.version != "1":
            raise InvalidSiweMessage(f"version must be 1, not {self.version!r}")
        if isinstance(self.chain_id, bool) or not isinstance(self.chain_id, int) or self.chain_id < 0:
            raise InvalidSiweMessage(f"chain id must be a non-negative integer: {self.chain_id!r}")
        if NONCE_RE.fullmatch(self.nonce) is None:
            raise InvalidSiweMessage("nonce must be at least 8 letters or digits")
        parse_datetime(self.issued_at, "Issued At")
        if self.expiration_time is not None:
            parse_datetime(self.expiration_time, "Expiration Time")
        if self.not_before is not None:
            parse_datetime(self.not_before, "Not Before")
        if self.request_id is not None and REQUEST_ID_RE.fullmatch(self.request_id) is None:
            raise InvalidSiweMessage(f"request id must be RFC 3986 pchar: {self.request_id!r}")
        for resource in self.resources or ():
            if not is_uri(resource):
                raise InvalidSiweMessage(f"resource is not an RFC 3986 URI: {resource!r}")

    @property
    def issued_at_time(self) -> datetime:
        return parse_datetime(self.issued_at)

    @property
    def expiration(self) -> datetime | None:
        return None if self.expiration_time is None else parse_datetime(self.expiration_time)

    @property
    def not_before_time(self) -> datetime | None:
        return None if self.not_before is None else parse_datetime(self.not_before)

    @property
    def text(self) -> str:
        """The message as the EIP's ABNF writes it (LF line ends, no trailing LF)."""
        prefix = f"{self.scheme}://" if self.scheme else ""
        lines = [f"{prefix}{self.domain}{HEADER_SUFFIX}", self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources is not None:
            lines.append("Resources:")
            lines += [f"- {r}" for r in self.resources]
        return "\n".join(lines)


class _Lines:
    """A cursor over the message's lines, each read in the order the grammar fixes."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.i = 0

    def peek(self) -> str | None:
        return self.lines[self.i] if self.i < len(self.lines) else None

    def take(self, what: str) -> str:
        line = self.peek()
        if line is None:
            raise InvalidSiweMessage(f"the message ends before its {what}")
        self.i += 1
        return line

    def tagged(self, tag: str) -> str:
        line = self.take(tag.strip(": "))
        if not line.startswith(tag):
            raise InvalidSiweMessage(f"line {self.i} must be {tag.strip()!r} (fields in the EIP's order)")
        return line[len(tag) :]

    def optional(self, tag: str) -> str | None:
        line = self.peek()
        if line is None or not line.startswith(tag):
            return None
        self.i += 1
        return line[len(tag) :]


def parse(text: str) -> SiweMessage:
    """The message `text` as the EIP's ABNF reads it; InvalidSiweMessage names the first violation."""
    if "\r" in text:
        raise InvalidSiweMessage("line ends must be LF only")
    lines = _Lines(text)
    header = lines.take("header")
    if not header.endswith(HEADER_SUFFIX):
        raise InvalidSiweMessage(f"the first line must end with {HEADER_SUFFIX.strip()!r}")
    domain = header[: -len(HEADER_SUFFIX)]
    scheme = None
    scheme_match = re.match(rf"({_SCHEME})://", domain)
    if scheme_match:
        scheme, domain = scheme_match.group(1), domain[scheme_match.end() :]
    address = lines.take("address")
    if lines.take("blank line after the address") != "":
        raise InvalidSiweMessage("a blank line must follow the address")
    statement: str | None = lines.take("statement")
    if statement != "":
        if lines.take("blank line after the statement") != "":
            raise InvalidSiweMessage("the statement must be one line, followed by a blank line")
    else:
        statement = None
    uri, version, chain, nonce, issued_at = (lines.tagged(tag) for tag in _TAGS)
    if CHAIN_ID_RE.fullmatch(chain) is None or len(chain) > 78:  # 78 digits: any uint256
        raise InvalidSiweMessage(f"chain id must be decimal digits: {chain[:80]!r}")
    expiration, not_before, request_id = (lines.optional(tag) for tag in _OPTIONAL_TAGS)
    resources: tuple[str, ...] | None = None
    if lines.peek() == "Resources:":
        lines.take("resources")
        found = []
        while (line := lines.peek()) is not None and line.startswith("- "):
            found.append(lines.take("resource")[2:])
        resources = tuple(found)
    if lines.peek() is not None:
        raise InvalidSiweMessage(f"unexpected line {lines.i + 1}: {lines.peek()!r}")
    return SiweMessage(
        domain=domain,
        address=address,
        uri=uri,
        chain_id=int(chain),
        nonce=nonce,
        issued_at=issued_at,
        version=version,
        scheme=scheme,
        statement=statement,
        expiration_time=expiration,
        not_before=not_before,
        request_id=request_id,
        resources=resources,
    )
