"""Grammar edges the official vectors do not reach: dates that do not exist, leap seconds, every
optional field at once, trailing or CR line ends, statements outside the ABNF's characters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from registry.siwe.message import InvalidSiweMessage, SiweMessage, is_uri, parse, parse_datetime

BASE = SiweMessage(
    domain="game.example:8443",
    address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
    uri="https://game.example:8443/login",
    chain_id=31337,
    nonce="a1B2c3D4e5",
    issued_at="2026-01-02T03:04:05.678+01:00",
)


def test_every_optional_field_round_trips() -> None:
    full = SiweMessage(
        **{k: getattr(BASE, k) for k in ("domain", "address", "uri", "chain_id", "nonce", "issued_at")},
        scheme="https",
        statement="Sign in: terms at https://game.example/tos (v2) & more!",
        expiration_time="2026-01-02T04:04:05Z",
        not_before="2026-01-02T03:00:00Z",
        request_id="req-42:abc@x;y=1",
        resources=(),
    )
    assert full.text.endswith("Request ID: req-42:abc@x;y=1\nResources:")
    assert parse(full.text) == full
    assert parse(BASE.text) == BASE


@pytest.mark.parametrize(
    "text",
    [
        BASE.text + "\n",  # the ABNF ends without a line feed
        BASE.text.replace("\n", "\r\n"),
        BASE.text.replace("Nonce: a1B2c3D4e5", "Nonce: a1B2c3D4-5"),
        BASE.text.replace("Chain ID: 31337", "Chain ID: " + "9" * 100),
        BASE.text.replace("2026-01-02T03:04:05.678+01:00", "2026-02-30T03:04:05Z"),
        BASE.text.replace("2026-01-02T03:04:05.678+01:00", "2026-01-02T24:00:00Z"),
        BASE.text.replace("2026-01-02T03:04:05.678+01:00", "2026-01-02 03:04:05Z"),
        BASE.text.replace("2026-01-02T03:04:05.678+01:00", "2026-01-02T03:04:05"),  # no offset
        BASE.text.replace("\n\n\nURI", "\n\nSigné 100%\n\nURI"),  # non-ASCII and % are outside the ABNF
        BASE.text.replace("URI: https://game.example:8443/login", "URI: https://game example/"),
        BASE.text.replace("game.example:8443 wants", "game.example:8443/path wants"),
        BASE.text + "\nResources:\n- https://ok.example\n-https://missing-space.example",
        BASE.text + "\nRequest ID: has/slash",  # request-id is *pchar: no "/"
    ],
)
def test_outside_the_grammar_is_refused(text: str) -> None:
    with pytest.raises(InvalidSiweMessage):
        parse(text)


def test_rfc3339_times() -> None:
    assert parse_datetime("2016-12-31T23:59:60Z") == datetime(2017, 1, 1, tzinfo=UTC)  # leap second
    assert parse_datetime("2026-01-02t03:04:05z") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_datetime("2026-01-02T03:04:05.5-02:30") == datetime(2026, 1, 2, 5, 34, 5, 500_000, tzinfo=UTC)
    assert parse_datetime("2024-02-29T00:00:00Z").day == 29
    with pytest.raises(InvalidSiweMessage):
        parse_datetime("2023-02-29T00:00:00Z")


@pytest.mark.parametrize(
    "stamp",
    [
        "0000-01-01T00:00:00Z",  # year 0: no such year in datetime
        "9999-12-31T23:59:60Z",  # a leap second past the last representable instant
        "0001-01-01T00:00:00+01:00",  # before the first representable instant once the offset is applied
        "\u0662\u0660\u0662\u0666-01-02T03:04:05Z",  # Arabic-Indic digits: int() reads them, RFC 3339 does not
    ],
)
def test_dates_outside_the_range_or_the_ascii_digits_are_refused(stamp: str) -> None:
    with pytest.raises(InvalidSiweMessage):
        parse_datetime(stamp)
    for text in (
        BASE.text.replace(BASE.issued_at, stamp),
        BASE.text + f"\nExpiration Time: {stamp}",
        BASE.text + f"\nNot Before: {stamp}",
    ):
        with pytest.raises(InvalidSiweMessage):
            parse(text)


@pytest.mark.parametrize(
    ("uri", "ok"),
    [
        ("https://[2001:db8::7]/c=GB?objectClass?one", True),
        ("ldap://[2001:db8::7]/c=GB?objectClass?one", True),
        ("urn:oasis:names:specification:docbook:dtd:xml:4.1.2", True),
        ("did:pkh:eip155:1:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", True),
        ("https://[v1.fe80::a+en1]/", True),
        ("https://[::ffff:192.0.2.1]:443/", True),
        ("https://[2001:db8::7::1]/", False),
        ("https://exa mple.org/", False),
        ("https://example.org/%zz", False),
        ("//example.org/", False),  # a relative reference, not a URI
    ],
)
def test_rfc3986_uris(uri: str, ok: bool) -> None:
    assert is_uri(uri) is ok
