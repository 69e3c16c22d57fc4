"""EIP-5573 as the EIP writes it: its example ReCap URI decodes (it is in the canonical form this
service insists on), translates to the EIP's own statement, quoted with `'` (which our EIP-4361
statement grammar accepts, unlike the `"` some libraries emit), and a message whose statement does
not end with that translation is refused."""

from __future__ import annotations

import dataclasses

import pytest

from registry.siwe import recap
from registry.siwe.message import STATEMENT_RE, SiweMessage, parse

# From ERC-5573 ("ReCap Details Object Schema" and the translation it expects).
EIP_URI = (
    "urn:recap:eyJhdHQiOnsiaHR0cHM6Ly9leGFtcGxlLmNvbS9waWN0dXJlcy8iOnsiY3J1ZC9kZWxldGUiOlt7fV0sImNydWQvdXBkYXRl"
    "Ijpbe31dLCJvdGhlci9hY3Rpb24iOlt7fV19LCJtYWlsdG86dXNlcm5hbWVAZXhhbXBsZS5jb20iOnsibXNnL3JlY2VpdmUiOlt7Im1heF9j"
    "b3VudCI6NSwidGVtcGxhdGVzIjpbIm5ld3NsZXR0ZXIiLCJtYXJrZXRpbmciXX1dLCJtc2cvc2VuZCI6W3sidG8iOiJzb21lb25lQGVtYWls"
    "LmNvbSJ9LHsidG8iOiJqb2VAZW1haWwuY29tIn1dfX0sInByZiI6WyJ6ZGo3V2o2Rk5TNHJVVWJzaUp2amp4Y3NOcVpkRENTaVlSOHNLUVhm"
    "b1BmcFNadUF3Il19"
)
EIP_STATEMENT = (
    "I further authorize the stated URI to perform the following actions on my behalf: (1) 'crud': 'delete',"
    " 'update' for 'https://example.com/pictures/'. (2) 'other': 'action' for 'https://example.com/pictures/'."
    " (3) 'msg': 'receive', 'send' for 'mailto:username@example.com'."
)


def test_the_eips_example_decodes_and_translates_to_its_statement() -> None:
    details = recap.decode(EIP_URI)
    assert details["att"]["mailto:username@example.com"]["msg/receive"] == [
        {"max_count": 5, "templates": ["newsletter", "marketing"]}
    ]
    assert recap.encode(details) == EIP_URI
    assert recap.statement(details) == EIP_STATEMENT
    assert STATEMENT_RE.fullmatch(recap.statement(details, "Sign in.")) is not None
    assert STATEMENT_RE.fullmatch(EIP_STATEMENT.replace("'", '"')) is None  # why the EIP's quote matters


def test_a_statement_that_does_not_match_its_recap_is_refused() -> None:
    message = SiweMessage(
        domain="example.com", address="0x0000000000000000000000000000000000000000", uri="https://example.com",
        chain_id=1, nonce="mynonce1", issued_at="2022-06-21T12:00:00.000Z", statement="Hi. " + EIP_STATEMENT,
        resources=("https://example.com/doc", EIP_URI),
    )  # fmt: skip
    assert recap.of(parse(message.text)) == recap.decode(EIP_URI)
    narrower = EIP_STATEMENT.replace("'delete', 'update'", "'update'")
    with pytest.raises(recap.InvalidRecap):
        recap.of(dataclasses.replace(message, statement=narrower))
    assert recap.of(dataclasses.replace(message, resources=("https://example.com/doc",))) is None
    assert not recap.names_twinmark(message)
